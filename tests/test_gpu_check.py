"""scripts/gpu_check.sh without a GPU: it says what it would run and exits non-zero; its CUDA tests are skipped
with the reason; and its steps run on the CPU at toy size (``GPU_CHECK_TINY=1`` for the script,
``--device cpu --tiny`` for ``python scripts/gpu_check.py``), so that their code is exercised before a GPU is at
hand. The toy numbers mean nothing."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import gpu_check  # noqa: E402  (scripts/gpu_check.py)

SCRIPT = ROOT / "scripts" / "gpu_check.sh"
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU machine the script runs for real")


def _script(out: Path, **env: str) -> subprocess.CompletedProcess:
    """Run the script with ``OUT=out`` and the extra environment ``env``."""
    environment = {**os.environ, "OUT": str(out), "OMP_NUM_THREADS": "1", **env}
    return subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=environment, capture_output=True, text=True,
                          timeout=240)


def _rows(path: Path) -> list[dict]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def _log(out: Path, name: str) -> str:
    """A file of the run's logs.tar.gz (the results folder holds at most 8 files; the logs travel packed)."""
    with tarfile.open(out / "logs.tar.gz") as archive:
        return archive.extractfile(f"./{name}").read().decode()


@no_cuda
def test_without_cuda_the_script_lists_its_steps_and_exits_non_zero(tmp_path):
    result = _script(tmp_path / "out")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no CUDA device" in result.stderr and "nothing was run" in result.stderr
    for step in ("0 set-up", "1 tests", "2 throughput", "3 fidelity", "4 ddp", "5 profiles", "In all 480 s"):
        assert step in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


def test_the_plan_prints_the_budgets_the_script_uses():
    """The budgets the plan states are the script's own variables (no header to disagree with the code), and the
    fixed ones leave the last step at least its minimum of the total."""
    text = SCRIPT.read_text()
    budgets = {name: int(value) for name, value in re.findall(r"^BUDGET_(\w+)=\$\{BUDGET_\w+:-(\d+)\}", text, re.M)}
    assert set(budgets) == {"SETUP", "TESTS", "THROUGHPUT", "FIDELITY", "DDP"}
    for name, budget in budgets.items():
        assert re.search(rf"\$BUDGET_{name}\s", text.split("plan() {")[1].split("PLAN\n}")[0]), name
    total = int(re.search(r"^TOTAL_BUDGET=(\d+)", text, re.M).group(1))
    minimum = int(re.search(r"^MIN_PROFILES_BUDGET=(\d+)", text, re.M).group(1))
    assert total == 480 and sum(budgets.values()) + minimum <= total


@no_cuda
def test_the_script_runs_the_cuda_tests_which_are_skipped_without_cuda(tmp_path):
    """Step 1 through the script (``GPU_CHECK_TINY=1`` skips the CUDA check): every CUDA test is collected and
    skipped with the reason, and the step is recorded."""
    out = tmp_path / "out"
    result = _script(out, GPU_CHECK_TINY="1", GPU_CHECK_STEPS="tests")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    log = _log(out, "tests.log")
    assert "SKIPPED" in log and "needs CUDA" in log and " passed" not in log
    assert _rows(out / "steps.csv")[0] | {"seconds": ""} == {"step": "1", "name": "tests", "status": "ok",
                                                             "seconds": "", "budget_s": "60"}
    summary = (out / "summary.txt").read_text()
    assert "step 1 tests: ok" in summary and " skipped in " in summary and "venv mode" in summary
    assert sorted(path.name for path in out.iterdir()) == ["environment.txt", "logs.tar.gz", "steps.csv",
                                                           "summary.txt"]


def test_throughput_step_on_cpu_in_tiny_size(tmp_path):
    """K = 1 and 2 runs at once in tiny mode: a row per (K, method) with the aggregate images/s, the goal and the
    ratio to it, in benchmarks/results.csv's columns."""
    assert gpu_check.main(["throughput", "--device", "cpu", "--tiny", "--out", str(tmp_path)]) == 0
    rows = _rows(tmp_path / "throughput.csv")
    assert [(row["workers"], row["method"]) for row in rows] == [
        (k, method) for k in ("1", "2") for method in ("Softmax", "ARPL", "ARPL+CS")]
    assert all(float(row["images_per_s"]) > 0 and float(row["peak_memory_mb"]) > 0 and row["ratio_to_goal"]
               for row in rows)
    assert set(gpu_check.throughput_module().CSV_COLUMNS) <= set(rows[0])
    summary = (tmp_path / "throughput.txt").read_text()
    assert "x the goal of 20,000" in summary and "x the goal of 6,667" in summary and "K=2" in summary


def test_throughput_ks_that_would_not_fit_in_the_budget_are_skipped_and_named(tmp_path):
    options = gpu_check.Options(out=tmp_path, device=torch.device("cpu"), tiny=True, budget_s=0)
    gpu_check.throughput(options)
    assert not (tmp_path / "throughput.csv").exists()
    assert "skipped (budget): K = 1, 2" in (tmp_path / "throughput.txt").read_text()


def test_the_throughput_configs_train_like_the_cifar10_profile():
    """classifier32 with the profile's batch size, train options and GAN width, K processes at once."""
    from arpl.pipeline.params.profiles import profile_params

    params = profile_params(gpu_check.THROUGHPUT_PROFILE)
    options = gpu_check.Options(out=Path("."), device=torch.device("cuda"), tiny=False, budget_s=100)
    configs = gpu_check.throughput_configs(options, 8)
    assert [config.method for config in configs] == list(gpu_check.THROUGHPUT_METHODS)
    for config in configs:
        assert (config.network, config.batch_size, config.workers, config.gan_width) == (
            "classifier32", params.train.batch_size, 8, params.confusing.ngf)
        assert (config.amp, config.channels_last, config.compile) == (
            params.train.amp, params.train.channels_last, params.train.compile)


def test_fidelity_step_on_cpu_in_tiny_size_stops_when_out_of_time(tmp_path):
    """Step 3 with no time at all: one epoch each (the least asked in tiny mode), ARPL and Softmax side by side,
    beside the anchors under their AUROC convention, ours beside it."""
    assert gpu_check.main(["fidelity", "--device", "cpu", "--tiny", "--out", str(tmp_path), "--budget-s", "0"]) == 0
    epochs = _rows(tmp_path / "fidelity_epochs.csv")
    assert [(row["method"], row["epoch"]) for row in epochs] == [("ARPL", "1"), ("Softmax", "1")]
    table = {(row["method"], row["metric"]): row for row in _rows(tmp_path / "fidelity.csv")}
    assert float(table["ARPL", "AUROC"]["anchor"]) == 84.88 and float(table["Softmax", "AUROC"]["anchor"]) == 83.69
    assert "anchor trained 40 epochs, ours 1" in table["ARPL", "AUROC"]["note"]
    assert table["ARPL", "AUROC"]["ours_ties_half"] and not table["ARPL", "ACC"]["ours_ties_half"]
    assert "ARPL split 0: AUROC" in (tmp_path / "fidelity.txt").read_text()


def test_a_failed_step_is_recorded_and_the_next_steps_still_run(tmp_path):
    """A GPU slice is rare: the script records a failed step (here a throughput budget of 1 s) with its last log
    lines and goes on; it exits non-zero naming what failed."""
    out = tmp_path / "out"
    result = _script(out, GPU_CHECK_TINY="1", GPU_CHECK_STEPS="throughput fidelity", BUDGET_THROUGHPUT="1")
    assert result.returncode == 1
    summary = (out / "summary.txt").read_text()
    assert "step 2 throughput: FAILED, timed out after 1 s" in summary and "step 3 fidelity: ok" in summary
    assert "gpu_check: failed: throughput" in summary
    assert [row["status"] for row in _rows(out / "steps.csv")] == ["FAILED", "ok"]
    assert (out / "fidelity.csv").exists()


def test_profiles_step_runs_the_quick_runner_and_names_a_failed_profile(tmp_path):
    """Step 5 hands its profiles to scripts/quick_run.py (which tests/test_paper_profiles.py runs for every
    paper profile); a profile that fails is named with its log."""
    out = tmp_path / "out"
    result = _script(out, GPU_CHECK_TINY="1", GPU_CHECK_STEPS="profiles", GPU_CHECK_PROFILES="no-such-profile")
    assert result.returncode == 1
    assert _rows(out / "steps.csv")[0]["name"] == "profiles" and _rows(out / "steps.csv")[0]["status"] == "FAILED"
    assert _rows(out / "quick_runs.csv")[0]["profile"] == "no-such-profile"
    assert "unknown profile 'no-such-profile'" in _log(out, "quick/no-such-profile/repro.log")


def test_fidelity_fails_below_ten_epochs_or_without_learning():
    good = {"method": "ARPL", "epochs": 12, "ACC": 95.0}
    gpu_check.check_fidelity([good], 10, 0.8)
    with pytest.raises(gpu_check.StepFailed, match="fewer than 10 epochs"):
        gpu_check.check_fidelity([good, {"method": "Softmax", "epochs": 7, "ACC": 95.0}], 10, 0.8)
    with pytest.raises(gpu_check.StepFailed, match="does not learn"):
        gpu_check.check_fidelity([{**good, "ACC": 40.0}], 10, 0.8)


@pytest.mark.integration
def test_ddp_step_on_cpu_in_tiny_size(tmp_path):
    """Step 3 on the CPU: `python -m arpl train` in one process against two processes over gloo sharing the
    device (the path of a one-GPU machine), compared by their training loss (three processes: ~30 s)."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "ddp", "--device", "cpu", "--tiny", "--out", str(tmp_path)]
    result = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    single, ddp = _rows(tmp_path / "ddp.csv")
    assert (single["processes"], ddp["processes"], ddp["backend"]) == ("1", "2", "gloo")
    assert abs(float(single["loss"]) - float(ddp["loss"])) < 0.5
    assert "2 processes on the CPU over gloo" in (tmp_path / "ddp.txt").read_text()
