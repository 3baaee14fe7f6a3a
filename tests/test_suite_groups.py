"""scripts/test.sh relies on pytest-xdist's ``--dist loadgroup``: the tests marked with one ``xdist_group`` (those
sharing the smoke run, the DDP runs, the JupyterLab server) run on one worker, so their expensive run is made once.
A pytest / pytest-xdist pair that silently ignores the groups doubles that work: this test notices."""

from __future__ import annotations

import subprocess
import sys

GROUPED_TESTS = '''
import os
import pytest

pytestmark = pytest.mark.xdist_group("shared_run")


@pytest.mark.parametrize("index", range(6))
def test_grouped(index, tmp_path_factory):
    folder = tmp_path_factory.getbasetemp().parent.parent / "workers"
    folder.mkdir(exist_ok=True)
    (folder / str(index)).write_text(os.environ["PYTEST_XDIST_WORKER"])
'''


def test_the_tests_of_one_xdist_group_run_on_one_worker(tmp_path):
    (tmp_path / "test_grouped.py").write_text(GROUPED_TESTS)
    (tmp_path / "base").mkdir()
    result = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-q",
                             "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "base" / "temp"),
                             str(tmp_path / "test_grouped.py")],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    workers = {path.read_text() for path in (tmp_path / "base" / "workers").iterdir()}
    assert len(workers) == 1, f"one group ran on {sorted(workers)}: pytest-xdist ignores xdist_group here"
