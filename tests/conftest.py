"""Shared fixtures: the repository root, a validated params dict of the smoke profile, a temporary
working folder for stages that write ``runs/``."""

from __future__ import annotations

import copy
import os
import shutil
from pathlib import Path

import pytest
import yaml

from arpl.pipeline.params import Params, validate
from arpl.pipeline.params.profiles import profile_text

ROOT = Path(__file__).resolve().parents[1]

# DVC's usage analytics would start a daemon per command that leaves a file in /tmp and tries the network.
os.environ["DVC_NO_ANALYTICS"] = "1"


# Every pipeline run of the session (the smoke run, each paper profile's quick run) records the params keys its stages
# read (arpl/pipeline/params/declared.py); at the end, every key a stage declares in dvc.yaml must have been read by
# some run.
READS = ROOT / ".pytest_cache" / "params_read"
READS_OWNER = "ARPL_PARAMS_READ_OWNER"   # the process of the session that judges them


def pytest_configure(config):
    """Under ``pytest -n N`` each worker gets its share of the cores (one thread each on two cores), it and the
    processes it starts: N workers of as many threads as cores each would stall one another (a test that trains
    for 38 s took 271 s beside another worker). Each process records the params its pipeline runs read in a file
    of :data:`READS`, which the controller empties first."""
    from arpl.pipeline.params.declared import READS_ENV

    if READS_ENV not in os.environ:   # not a pytest that a test of the suite started
        if not hasattr(config, "workerinput"):
            shutil.rmtree(READS, ignore_errors=True)
            READS.mkdir(parents=True)
            os.environ[READS_OWNER] = str(os.getpid())
        os.environ[READS_ENV] = str(READS / f"{getattr(config, 'workerinput', {}).get('workerid', 'main')}.txt")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers:
        import torch

        threads = max(1, (os.cpu_count() or 1) // workers)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def smoke_params_raw() -> dict:
    return yaml.safe_load(profile_text("smoke"))


@pytest.fixture
def smoke_params(smoke_params_raw) -> Params:
    """A fresh copy of the smoke profile, validated, with the data root pointing at the repository's data/raw."""
    params = copy.deepcopy(smoke_params_raw)
    params["run"]["data_root"] = str(ROOT / "data" / "raw")
    return validate(params)


# The longest tests, in the order they should start (each takes minutes): `pytest -n 2` then ends both workers at
# about the same time instead of leaving one to finish a long test alone (scripts/test.sh).
LONG_FIRST = ("test_pipeline.py", "test_paper_profiles.py", "test_extending.py", "test_distributed.py",
              "test_portable.py", "test_jupyterlab.py")


def pytest_collection_modifyitems(config, items):
    """Integration tests first (in :data:`LONG_FIRST` order), then the rest as collected."""
    def rank(item) -> tuple[int, int]:
        if item.get_closest_marker("integration") is None and item.path.name != "test_jupyterlab.py":
            return (1, 0)
        name = item.path.name
        return (0, LONG_FIRST.index(name) if name in LONG_FIRST else len(LONG_FIRST))

    items.sort(key=rank)


def pytest_sessionfinish(session, exitstatus):
    """The other half of the declarations' check: a key a stage declares but no run of the suite reads would rerun
    the stage for nothing. Judged only when every profile's pipeline run took part (not for a selection of tests)."""
    from test_declared import SUITE_PROFILES, unread_declarations

    if os.environ.get(READS_OWNER) != str(os.getpid()) or not READS.is_dir():
        return
    reads = [line.split() for path in READS.glob("*.txt") for line in path.read_text().splitlines()]
    if not SUITE_PROFILES <= {profile for profile, _, _ in reads}:
        return
    unread = unread_declarations({(stage, key) for _, stage, key in reads}, ROOT / "dvc.yaml")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for line in unread:
        reporter.write_line(f"declared in dvc.yaml, read by no pipeline run of the suite: {line}", red=True)
    if unread:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

