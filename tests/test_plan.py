"""The training plan of ``python -m arpl check`` (arpl.stages.plan): which models each stage trains, how many
image-epochs that is, and the expected hours from benchmarks/results.csv."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from arpl.pipeline.params import Params
from arpl.pipeline.params.profiles import profile_names, profile_params
from arpl.stages.plan import STAGE_SWITCHES, STAGES, PlannedRun, plan_summary, stage_seconds, training_plan

ROOT = Path(__file__).resolve().parents[1]

# Checkpoints (runs/<stage>/**/checkpoint.pt) the smoke pipeline writes per stage. Obtained by running it once in a
# temporary copy of the repository (git ls-files, `python -m arpl profile smoke`, `python -m arpl prepare-data`,
# `dvc repro`, 39 checkpoints) and counting; each planned run's folder, epochs and images per epoch matched its
# checkpoint. They agree with the code: train 4 methods x (split0 + all), confusing 3 variants x
# (split0 + all) (ablation_trials 1 = the one split), incremental 3 methods x 1 order, figures 6 models of Fig. 7 +
# 2 known counts, ablations 4 variants x 2 lambdas + 3 methods x 2 known counts.
SMOKE_CHECKPOINTS = {"train": 8, "confusing": 6, "incremental": 3, "figures": 8, "ablations": 14}
DEVICE = "Test CPU (2 threads)"


@pytest.fixture(scope="module")
def smoke() -> Params:
    return profile_params("smoke")


def _with(params: Params, section: str, key: str, value) -> Params:
    return params.replace(section, **{key: value})


def test_smoke_plan_has_a_run_per_checkpoint_of_the_smoke_pipeline(smoke):
    assert dict(Counter(run.stage for run in training_plan(smoke))) == SMOKE_CHECKPOINTS


def test_smoke_runs_have_their_stage_budget(smoke):
    runs = {(run.stage, run.name, run.run): run for run in training_plan(smoke)}
    assert (runs["train", "ARPL", "split0"].images, runs["train", "ARPL", "split0"].epochs) == (6 * 100, 2)
    assert runs["train", "ARPL", "all"].images == 10 * 100
    assert runs["confusing", "cs", "all"].algorithm == 2 and runs["confusing", "cs", "all"].epochs == 1
    assert runs["incremental", "GCPL", "order0"].images == 5 * 100
    assert runs["figures", "ARPLK4", "known4"].images == 4 * 100


def test_switched_off_stages_train_nothing(smoke):
    domainnet = training_plan(profile_params("domainnet"))
    assert {run.stage for run in domainnet} == {"train", "confusing"}
    assert {run.run for run in domainnet} == {"all"}  # data.splits: [] leaves only the all-class models
    figures_off = Counter(run.stage for run in training_plan(_with(smoke, "figures", "enabled", False)))
    assert figures_off["figures"] == figures_off["ablations"] == 0 and figures_off["train"] == 8
    lines = plan_summary(_with(smoke, "incremental", "enabled", False), results_csv="missing.csv", device=DEVICE)
    assert "  incremental  switched off by incremental.enabled" in lines


def test_switches_are_the_when_keys_of_dvc_yaml():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    when = {stage: re.search(r"--when (\S+)", stages[stage]["cmd"]) for stage in STAGES}
    assert {stage: match[1] for stage, match in when.items() if match} == STAGE_SWITCHES


def _results(path: Path, device: str, seconds: dict[str, float], batch_size: int = 64, workers: int = 1,
             gan_width: int = 8) -> Path:  # the smoke profile's GAN width
    with path.open("a", newline="") as handle:
        writer = csv.writer(handle)
        if handle.tell() == 0:
            writer.writerow(["date", "device", "torch", "method", "network", "batch_size", "amp", "channels_last",
                             "compile", "images_per_s", "seconds_per_epoch", "peak_memory_mb", "workers", "gan_width"])
        writer.writerows([["2026-01-01", device, "2", method, "small", batch_size, False, True, False, 1.0, value, 1,
                           workers, gan_width] for method, value in seconds.items()])
    return path


def _one_worker(params: Params) -> Params:
    return _with(params, "run", "workers", 1)


def test_hours_come_from_the_measured_seconds_per_epoch(smoke, tmp_path):
    # 36,000 s per benchmark epoch of 36,000 images: 1 s per image (Algorithm 2: 2 s); the smoke plan has
    # 29,900 image-epochs, 5,400 of them Algorithm 2: 29,900 + 5,400 = 35,300 s = 9.8 h.
    csv_path = _results(tmp_path / "results.csv", DEVICE, {m: 36_000 for m in ("Softmax", "GCPL", "RPL", "ARPL")}
                        | {"ARPL+CS": 72_000})
    _results(csv_path, DEVICE, {"ARPL": 1.0}, batch_size=32)  # later, but not the profile's batch size: ignored
    _results(csv_path, DEVICE, {"ARPL+CS": 1.0}, gan_width=64)  # later, but not the profile's GAN width: ignored
    lines = plan_summary(_one_worker(smoke), results_csv=csv_path, device=DEVICE)
    assert lines[0].startswith("plan: 39 models, 29,900 image-epochs (5,400 of them Algorithm 2)")
    time = next(line for line in lines if line.startswith("time:"))
    assert f"about 9.8 h of training on {DEVICE}" in time and "evaluation is not counted" in time


def test_runs_side_by_side_train_at_the_rate_measured_for_that_many_at_once():
    """Three equal runs of 1,000 images in two processes; one run alone goes at 100 images/s, two at once at 150
    in all: the first two take 1,000 / 75 s together, then the third alone 1,000 / 100 s."""
    runs = [PlannedRun("train", "ARPL", f"split{i}", 1, 1000, 1, "ARPL", "small") for i in range(3)]
    rates = {("small", "ARPL"): {1: 100.0, 2: 150.0}}
    assert stage_seconds(runs, rates, workers=2) == pytest.approx(1000 / 75 + 1000 / 100)
    assert stage_seconds(runs, rates, workers=1) == pytest.approx(3 * 1000 / 100)
    assert stage_seconds(runs, {("small", "ARPL"): {2: 150.0}}, workers=1) == pytest.approx(3 * 1000 / 75)
    assert stage_seconds(runs, {("small", "ARPL"): {1: 100.0}}, workers=2) == pytest.approx(1000 / 50 + 1000 / 100)


def test_the_plan_reads_the_rows_measured_for_its_worker_count(smoke, tmp_path):
    """Two workers: the rows of two runs at once count (here twice the speed of one), besides the one-run rows."""
    one = {m: 36_000 for m in ("Softmax", "GCPL", "RPL", "ARPL")} | {"ARPL+CS": 72_000}
    csv_path = _results(tmp_path / "results.csv", DEVICE, one)
    _results(csv_path, DEVICE, {method: value / 2 for method, value in one.items()}, workers=2)
    rates = {("small", method): {1: 36_000 / value, 2: 72_000 / value} for method, value in one.items()}
    two_workers = _with(smoke, "run", "workers", 2)
    expected = sum(stage_seconds([run for run in training_plan(two_workers) if run.stage == stage], rates, 2)
                   for stage in STAGES)
    lines = plan_summary(two_workers, results_csv=csv_path, device=DEVICE)
    assert f"about {expected / 3600:.1f} h of training" in next(line for line in lines if line.startswith("time:"))
    assert 9.8 / 2 < expected / 3600 < 9.8
    assert any("The runs train 2 at a time" in line for line in lines)


def test_no_measured_speed_says_how_to_measure_it(smoke, tmp_path):
    csv_path = _results(tmp_path / "results.csv", "Other GPU", {"ARPL": 36_000})
    for path in (csv_path, tmp_path / "absent.csv"):
        assert plan_summary(_one_worker(smoke), results_csv=path, device=DEVICE)[-1] == (
            f"time: no measured speed for {DEVICE}/small in {path}: run python benchmarks/train_throughput.py "
            f"--batch-size {smoke.train.batch_size} --gan-width {smoke.confusing.ngf} --channels-last "
            f"--networks small to measure it")


@pytest.mark.parametrize("name", profile_names())
def test_every_profile_has_a_plan(name):
    plan = training_plan(profile_params(name))
    assert plan and all(run.image_epochs > 0 for run in plan)
