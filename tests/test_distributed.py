"""`python -m arpl train` under `torchrun --nproc_per_node=2` (DistributedDataParallel on gloo, CPU) against the
same command in one process: both finish, write one checkpoint per split with the same fingerprint (so a
later single-process run, such as the notebook of `dvc repro`, reuses the DDP checkpoint) and end with
close metrics.

Why "close" and not equal: with a global batch of 64 each of the two processes takes the strided half of
the single process's batch (the same 64 images per step, arpl.data.batches.Batches), and DDP averages the
two gradients, which equals the gradient of the batch mean. What differs is batch norm: each process
normalises with the statistics of its own 32 images, and the running statistics kept are rank 0's (DDP
broadcasts rank 0's buffers). At lr 0.01, over run.seed 0-3, that moved the last epoch's training loss by
at most 0.015 and test accuracy and AUROC (600 known, 400 unknown test images) by at most 0.017, so the
tolerance is 0.05. It still catches a broken data split: a global batch of 128 (per-process batch not
divided) ends at loss 1.68 and accuracy 0.43 instead of 1.30 and 0.61, twice the steps (unsharded data)
at 0.71 and 0.82. The smoke profile's lr 0.1 is not used: there the eval-mode accuracy after two epochs
swings by up to 0.19 between runs that differ only in how a batch is split for batch norm.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from arpl.pipeline.params.profiles import profile_text
from arpl.training.distributed import DistContext, resolve_device

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 0.05

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("ddp_runs")]  # the runs are made once


def _params(folder: Path, epochs: int = 2, train_per_class: int = 200) -> Path:
    """A small copy of the smoke profile in ``folder``: split 0 only, 100 test images per class, lr 0.01, CPU."""
    params = yaml.safe_load(profile_text("smoke"))
    params["run"].update(device="cpu", data_root=str(ROOT / "data" / "raw"))
    params["data"].update(splits=[0], train_per_class=train_per_class, test_per_class=100)
    params["train"].update(epochs=epochs, closed_set=False, lr=0.01)
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _train(folder: Path, stage: str, name: str, processes: int) -> str:
    """Run ``python -m arpl train STAGE NAME`` in ``folder`` (under torchrun when ``processes > 1``)."""
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", f"--nproc_per_node={processes}", f"--master_port={_free_port()}"]
    command = [*launcher, "-m", "arpl", "train", stage, name, "--params", "params.yaml"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout


SKIP_SCRIPT = """
import sys
import torch
from arpl import training
from arpl.training import step
from arpl.training.distributed import init_distributed
from arpl.training.specs import ModelSpec, TrainSpec

context = init_distributed("cpu")
finite = step._finite

def finite_except_rank1_batch1(loss, spec, label, epoch, index):
    return finite(loss, spec, label, epoch, index) and not (context.rank == 1 and index == 1)

step._finite = finite_except_rank1_batch1
images = torch.randint(0, 256, (256, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
result = training.fit(ModelSpec("ARPL", "small", 4, feat_dim=8), TrainSpec(epochs=1, on_nonfinite="skip_batch"),
                      images, torch.arange(256) % 4, sys.argv[1], context=context)
print(f"rank {context.rank} skipped {result.history[-1]['skipped_batches']}", flush=True)
torch.distributed.destroy_process_group()
"""


def _checkpoints(folder: Path) -> list[Path]:
    return sorted(path.relative_to(folder) for path in (folder / "runs").rglob("*checkpoint.pt*"))


def _load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def arpl_runs(tmp_path_factory) -> dict[str, Path]:
    folders = {}
    for kind, processes in (("ddp", 2), ("single", 1)):
        folder = tmp_path_factory.mktemp(kind)
        _params(folder)
        _train(folder, "train", "ARPL", processes)
        folders[kind] = folder
    return folders


def test_ddp_and_single_process_write_one_checkpoint_per_split(arpl_runs):
    expected = [Path("runs/train/ARPL/split0/checkpoint.pt")]
    assert _checkpoints(arpl_runs["ddp"]) == expected
    assert _checkpoints(arpl_runs["single"]) == expected


def test_ddp_run_matches_single_process_run(arpl_runs):
    ddp, single = (_load(arpl_runs[kind] / "runs/train/ARPL/split0/checkpoint.pt") for kind in ("ddp", "single"))
    assert ddp["fingerprint"] == single["fingerprint"] and ddp["epoch"] == single["epoch"] == 2
    assert [set(row) for row in ddp["history"]] == [set(row) for row in single["history"]]
    for key in ("loss", "test_acc", "auroc"):
        assert abs(ddp["history"][-1][key] - single["history"][-1][key]) <= TOLERANCE, (key, ddp["history"][-1],
                                                                                         single["history"][-1])
    assert ddp["history"][-1]["test_acc"] > 0.3  # well above chance (1/6 with six known classes)


def test_single_process_run_reuses_the_ddp_checkpoint(arpl_runs):
    before = _load(arpl_runs["ddp"] / "runs/train/ARPL/split0/checkpoint.pt")
    output = _train(arpl_runs["ddp"], "train", "ARPL", processes=1)
    assert "epoch" not in output, output  # no epoch line: nothing was trained again
    after = _load(arpl_runs["ddp"] / "runs/train/ARPL/split0/checkpoint.pt")
    assert after["history"] == before["history"]


def test_confusing_samples_train_under_ddp(tmp_path):
    """ARPL+CS under DDP, started from the ARPL model of the same split (``confusing.init: arpl``)."""
    _params(tmp_path, epochs=1, train_per_class=50)
    _train(tmp_path, "train", "ARPL", processes=1)
    output = _train(tmp_path, "confusing", "cs", processes=2)
    assert _checkpoints(tmp_path) == [Path("runs/confusing/cs/split0/checkpoint.pt"),
                                      Path("runs/train/ARPL/split0/checkpoint.pt")]
    payload = _load(tmp_path / "runs/confusing/cs/split0/checkpoint.pt")
    assert payload["train_spec"]["init_from"].startswith("runs/train/ARPL/split0/checkpoint.pt@")
    assert set(payload["states"]) == {"net", "generator"}   # finished: the networks only
    assert {"loss_d", "loss_g", "loss_cs", "loss", "test_acc", "auroc"} <= set(payload["history"][-1])
    assert output.count("ARPL+CS split0:") == 1  # one summary line, from rank 0 only


def test_a_batch_skipped_on_one_rank_is_skipped_on_all(tmp_path):
    """With run.on_nonfinite: skip_batch, a non-finite loss on rank 1 alone must not leave rank 0 waiting in
    the gradient all-reduce of a backward pass rank 1 never runs: both ranks skip the batch."""
    (tmp_path / "skip.py").write_text(SKIP_SCRIPT)
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}",
               "skip.py", "run"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-4000:]
    # the two processes print concurrently, so their lines may interleave: match the reports, not lines
    assert sorted(re.findall(r"rank \d skipped \d+", result.stdout)) == [
        "rank 0 skipped 2", "rank 1 skipped 2"]  # one batch, skipped by each of the two processes
    assert (tmp_path / "run" / "checkpoint.pt").exists()


def test_a_fixed_gpu_is_refused_under_torchrun():
    """Every process would land on the same GPU; each must take its local rank's instead."""
    with pytest.raises(ValueError, match="CUDA_VISIBLE_DEVICES"):
        resolve_device("cuda:1", DistContext(rank=0, world_size=2))
