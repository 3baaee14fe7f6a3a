"""The real pipeline, end to end: `dvc repro` of the smoke profile in a temporary copy of the repository,
as a user would run it, then a second `dvc repro` that must do nothing, and a failing notebook that must
fail its stage with the cell named."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("smoke_run")]  # one smoke run per test session


def _run(command: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-6000:]}\n"
                             f"{result.stderr[-6000:]}")
    return result


def _copy_repository(target: Path, workers: int | None = None) -> Path:
    """The repository's files in ``target`` (``scripts/quick_run.py``'s copy), as the smoke profile's git repository;
    ``workers`` sets ``run.workers`` (None: the profile's own, one training process per core)."""
    spec = importlib.util.spec_from_file_location("quick_run", ROOT / "scripts" / "quick_run.py")
    quick_run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quick_run)
    quick_run.copy_repository(target)
    _run([sys.executable, "-m", "arpl", "profile", "smoke"], target)
    if workers is not None:
        _edit_reruns()._set_param(target, "run.workers", lambda _: workers)
    _run(["git", "init", "-q"], target)
    _run(["git", "add", "-A"], target)
    _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"], target)
    _run([sys.executable, "-m", "arpl", "prepare-data"], target)
    return target


@pytest.fixture(scope="module")
def repro(tmp_path_factory):
    """The smoke run the tests of this module share, trained in the stage's own process (``run.workers: 1``): the
    other xdist worker keeps the second core busy, so worker processes would only add their start-up, about 3 s
    each, in every stage that trains here and in the edit table's copy. Training in spawned workers through the
    pipeline is covered by tests/test_extending.py's plugin run, the relay of their lines by tests/test_notebooks.py
    and their numbers by tests/test_parallel.py."""
    repo = _copy_repository(tmp_path_factory.mktemp("repo"), workers=1)
    first = _run(["dvc", "repro"], repo)
    return repo, first


def test_stage_pages_show_tables_as_a_paper_prints_them(repro):
    """No report page shows a raw DataFrame (pandas' index column), a NaN cell, a table cut to "..." or a note as
    monospace text; every table has a caption."""
    repo, _ = repro
    pages = sorted((repo / "reports").glob("*.html"))
    assert len(pages) >= 11, pages
    for page in pages:
        html = page.read_text()
        tables = re.findall(r"<table.*?</table>", html, re.S)
        assert 'class="dataframe' not in html, f"{page.name}: a raw DataFrame"
        assert not re.search(r">\s*(NaN|nan|None)\s*<", html), f"{page.name}: a missing value printed"
        assert not any(re.search(r"<t[dh][^>]*>\s*(\.\.\.|…)\s*</t[dh]>", table) for table in tables), \
            f"{page.name}: an elided table"
        assert "<pre>" not in html or "Traceback" not in html, f"{page.name}: a traceback"
        if page.name != "index.html" and page.name != "claims.html":
            assert html.count('class="arpl-table"') == html.count('<p class="caption">'), \
                f"{page.name}: a table without a caption"


def test_every_stage_writes_sane_outputs(repro):
    repo, _ = repro
    osr = json.loads((repo / "metrics" / "osr.json").read_text())
    assert set(osr) == {"Softmax", "GCPL", "RPL", "ARPL", "ARPL+CS", "ARPL+CS (w/o ABN)", "ARPL+CS (w/o FT)"}
    for values in osr.values():
        assert 0 <= values["OSCR"] <= values["ACC"] <= 100 and 0 <= values["AUROC"] <= 100
    closed = json.loads((repo / "metrics" / "closed_set.json").read_text())
    assert all(10 <= v["ACC"] <= 100 for v in closed.values())
    ood = pd.read_csv(repo / "runs" / "ood" / "table3.csv")
    assert {"digits", "gaussian-noise", "uniform-noise"} <= set(ood.out)
    assert ood[["TNR", "AUROC", "DTACC", "AUIN", "AUOUT"]].apply(lambda c: c.between(0, 100)).all().all()
    incremental = pd.read_csv(repo / "runs" / "incremental" / "accuracy.csv")
    assert set(incremental.method) == {"Softmax", "GCPL", "ARPL"} and incremental.accuracy.between(0, 100).all()
    for figure in ("runs/data/samples.png", "runs/confusing/figures/fig6b_confusing_samples.png",
                   "runs/confusing/figures/fig10_cs_variants.png", "runs/osr/figures/fig9_oscr.png",
                   "runs/figures/figures/fig6a_retrieval.png", "runs/ablations/figures/fig8_lambda.png",
                   "runs/ablations/figures/fig11_known_classes.png", "runs/incremental/figures/fig13_incremental.png"):
        assert (repo / figure).stat().st_size > 1000, figure
    index = (repo / "reports" / "index.html").read_text()
    for page in ("01_data.html", "02_train.html", "03_confusing.html", "04_osr.html", "09_ablations.html"):
        assert page in index and (repo / "reports" / page).exists()


# Each stage page must show every figure its stage saves (the PNG files under these folders), as an image.
STAGE_FIGURES = {"01_data": "runs/data", "03_confusing": "runs/confusing/figures", "04_osr": "runs/osr/figures",
                 "06_closed_set": "runs/closed_set/figures", "07_incremental": "runs/incremental/figures",
                 "08_figures": "runs/figures/figures", "09_ablations": "runs/ablations/figures", "index": "reports"}


def test_the_log_shows_each_epoch_line_once_and_names_each_run(repro):
    """`dvc repro`'s terminal log: every epoch line appears once, and the ablation and figure runs name their
    lambda or K, so runs that differ only in those can be told apart. (This run trains in the stages' own processes;
    that a spawned worker's line reaches the log once, not also relayed by the kernel, is
    tests/test_notebooks.py's.)"""
    _, first = repro
    lines = [line.strip() for line in (first.stdout + first.stderr).splitlines()]
    epochs = [line for line in lines if re.match(r"^\[[^]]+\] epoch \d+/\d+ ", line)]
    repeated = sorted({line for line in epochs if epochs.count(line) > 1})
    assert epochs and not repeated, repeated[:5]
    labels = {line[1:line.index("]")] for line in epochs}
    for expected in ("RPL lambda=0.1 split0", "ARPL lambda=0 split0", "Softmax K=2", "ARPL K=4",
                     "ARPL (lambda=0.1) 2-D split0", "ARPL K=4 2-D known4"):
        assert expected in labels, sorted(labels)


def test_every_saved_figure_is_an_image_on_its_page(repro):
    repo, _ = repro
    for page, folder in STAGE_FIGURES.items():
        html = (repo / "reports" / f"{page}.html").read_text()
        figures = sorted((repo / folder).glob("*.png"))
        assert figures, f"{folder} holds no figure"
        assert html.count("<img") == len(figures), (page, html.count("<img"), [f.name for f in figures])
    for html_page in (repo / "reports").glob("*.html"):
        text = html_page.read_text()
        assert "<Figure size" not in text and "&lt;Figure size" not in text, html_page.name


def test_report_pages_show_every_image_and_link_in_a_real_browser(repro):
    """Open reports/index.html and every stage page in headless Chromium: every image has loaded (non-zero
    natural size) and every link resolves to a page that exists."""
    webdriver = pytest.importorskip("selenium.webdriver")
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromium-driver are missing: scripts/setup.sh installs them with apt")
        pytest.skip("needs Debian's chromium and chromium-driver (scripts/setup.sh installs them as root)")
    repo, _ = repro
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(shutil.which("chromedriver")))
    try:
        driver.get((repo / "reports" / "index.html").as_uri())
        links = [a.get_attribute("href") for a in driver.find_elements("tag name", "a")]
        pages = [link for link in links if link and link.startswith("file:")]
        assert len(pages) >= 9, pages
        for url in [(repo / "reports" / "index.html").as_uri(), *pages]:
            driver.get(url)
            assert Path(url.removeprefix("file://").split("#")[0]).exists(), url
            sizes = driver.execute_script(
                "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight]);")
            assert all(done and width > 0 and height > 0 for done, width, height in sizes), (url, sizes)
            page = Path(url.removeprefix("file://")).stem
            if page in STAGE_FIGURES:
                assert len(sizes) == len(list((repo / STAGE_FIGURES[page]).glob("*.png"))), (url, len(sizes))
    finally:
        driver.quit()

def test_second_repro_does_nothing(repro):
    repo, _ = repro
    again = _run(["dvc", "repro"], repo)
    assert "Running stage" not in again.stdout, again.stdout


def test_metrics_and_plots_commands_work(repro):
    """`dvc metrics show` lists the headline numbers; `dvc plots show` loads every plot of dvc.yaml (no "failed to
    load"): the per-epoch curves, the ROC and OSCR curves (one plot each, a line per method) and every figure."""
    repo, _ = repro
    shown = _run(["dvc", "metrics", "show"], repo).stdout
    assert "metrics/osr.json" in shown
    plots = _run(["dvc", "plots", "show", "-o", "plots_html"], repo)
    assert "failed to load" not in plots.stdout + plots.stderr, plots.stdout + plots.stderr
    html = (repo / "plots_html" / "index.html").read_text()
    for curve in ("roc", "oscr"):
        methods = set(pd.read_csv(repo / "runs" / "osr" / "curves" / f"{curve}.csv").method)
        assert len(methods) == 7 and all(f'"method": "{name}"' in html for name in methods)
        assert f'id = "runs_osr_curves_{curve}_csv"' in html
    figures = [*(repo / "runs").rglob("figures/*.png"), repo / "runs" / "data" / "samples.png"]
    assert len(list((repo / "plots_html" / "static").glob("*.png"))) == len(figures) >= 20


def test_bad_params_stop_repro_within_seconds_naming_the_key(repro, tmp_path):
    repo = _copy_finished_run(repro[0], tmp_path / "copy")  # the failed stage's notebook is an output it changes
    params = repo / "params.yaml"
    good = params.read_text()
    params.write_text(good.replace("  weight_pl: 0.1", "  weight_pl: -0.1"))
    try:
        tic = time.monotonic()
        failed = _run(["dvc", "repro"], repo, check=False)
        elapsed = time.monotonic() - tic
    finally:
        params.write_text(good)
    assert failed.returncode != 0 and elapsed < 60
    message = "train.weight_pl = -0.1 is not allowed: input should be greater than or equal to 0"
    assert message in failed.stdout + failed.stderr


def test_failing_cell_fails_its_stage_with_the_cell_named(repro, tmp_path):
    repo = _copy_finished_run(repro[0], tmp_path / "copy")  # the shared run stays finished for the other tests
    notebook = repo / "notebooks" / "06_closed_set.py"
    notebook.write_text(notebook.read_text() + '\n# %%\nraise ValueError("injected fault")\n')
    failed = _run(["dvc", "repro", "closed_set"], repo, check=False)
    assert failed.returncode != 0
    output = failed.stdout + failed.stderr
    assert "notebooks/06_closed_set.py failed in cell" in output and "injected fault" in output
    status = _run(["dvc", "status", "closed_set"], repo).stdout
    assert "changed" in status, "a failed stage is not recorded as up to date"


def test_sigkilled_training_resumes_on_the_next_repro(repro, tmp_path):
    """kill -9 the whole `dvc repro` while a training stage is mid-run; the next `dvc repro` resumes it
    from the last complete epoch (the stage's outputs are `persist`ed, checkpoints written atomically)."""
    repo = _copy_finished_run(repro[0], tmp_path / "copy")  # the shared run stays finished for the other tests
    params = repo / "params.yaml"
    good = params.read_text()
    params.write_text(good.replace("  epochs: 2\n", "  epochs: 40\n", 1)
                      .replace("  methods: [Softmax, GCPL, RPL, ARPL]\n", "  methods: [ARPL]\n", 1))
    checkpoint = repo / "runs" / "train" / "ARPL" / "split0" / "checkpoint.pt"
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    try:
        process = subprocess.Popen(["dvc", "repro", "train"], cwd=repo, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and _epoch_of(checkpoint) < 3:
            time.sleep(0.2)
        family = [process.pid] + [child.pid for child in psutil.Process(process.pid).children(recursive=True)]
        for pid in family:   # dvc, the notebook runner, its kernel (own session) and the kernel's workers
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.wait()
        killed_at = _epoch_of(checkpoint)
        assert 3 <= killed_at < 40, "killed while training"
        resumed = _run(["dvc", "repro", "train"], repo)
        assert f"resuming after epoch {killed_at}" in resumed.stdout + resumed.stderr
        assert _epoch_of(checkpoint) == 40
    finally:
        params.write_text(good)


def _epoch_of(checkpoint: Path) -> int:
    from arpl.training.checkpoint import read_checkpoint

    try:
        payload = read_checkpoint(checkpoint)
    except (FileNotFoundError, ValueError):
        return 0
    return payload["epoch"] if payload["train_spec"]["epochs"] == 40 else 0


def _copy_finished_run(repo: Path, target: Path) -> Path:
    """A copy of the finished smoke run (workspace, git repository and DVC cache), so a test can change it."""
    shutil.copytree(repo, target, symlinks=True, ignore=shutil.ignore_patterns("plots_html"))
    return target


def _stages_with_changed_dep(repo: Path, path: str) -> set[str]:
    """Stages (matrix stages by their base name) for which `dvc status` reports ``path``, or a folder above it,
    as a changed dependency."""
    status = json.loads(_run(["dvc", "status", "--json"], repo).stdout or "{}")
    stages = set()
    for stage, entries in status.items():
        for entry in entries:
            changed = entry.get("changed deps", {}) if isinstance(entry, dict) else {}
            if any(path == dep or path.startswith(dep.rstrip("/") + "/") for dep in changed):
                stages.add(stage.split("@")[0])
    return stages


def test_outputs_travel_through_a_dvc_remote(repro, tmp_path):
    """`dvc push` to a remote (a local folder here; s3://, gs://, ssh:// work the same), then a fresh clone gets
    every checkpoint, figure and page with `dvc pull`, without running anything."""
    repo, _ = repro
    source = _copy_finished_run(repo, tmp_path / "source")
    remote = tmp_path / "remote"
    _run(["dvc", "remote", "add", "-d", "storage", str(remote)], source)
    _run(["dvc", "push"], source)
    assert "in sync" in _run(["dvc", "status", "--cloud"], source).stdout
    _run(["git", "add", "-A"], source)
    _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "results"], source)
    clone = tmp_path / "clone"
    _run(["git", "clone", "-q", str(source), str(clone)], tmp_path)
    assert not (clone / "runs").exists() and not (clone / "reports").exists()
    _run(["dvc", "pull"], clone)
    for path in ("runs/train/ARPL/split0/checkpoint.pt", "runs/osr/figures/fig9_oscr.png", "reports/index.html",
                 "runs/data/splits.json", "data/raw/FashionMNIST/raw/t10k-images-idx3-ubyte"):
        assert (clone / path).read_bytes() == (source / path).read_bytes(), path
    status = json.loads(_run(["dvc", "status", "--json"], clone).stdout or "{}")
    changed_outs = {stage: entries for stage, entries in status.items()
                    if any(isinstance(e, dict) and "changed outs" in e for e in entries)}
    assert changed_outs == {}, "every output the pipeline recorded is there after `dvc pull`"


def _edit_reruns():
    """``benchmarks/edit_reruns.py``, the script that measures README.md's table "What an edit reruns"."""
    spec = importlib.util.spec_from_file_location("edit_reruns", ROOT / "benchmarks" / "edit_reruns.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


# The runs of the smoke profile by the label of their epoch lines: the open-set runs of split 0 and the all-class
# runs (train, confusing), the class-incremental base models, the 2-D figure models and the ablation models.
SMOKE_RUNS_OF = {
    "GCPL": {"GCPL split0", "GCPL all", "GCPL order0", "GCPL 2-D split0", "GCPL K=2", "GCPL K=4"},
    "RPL": {"RPL split0", "RPL all"},
    "ARPL": {"ARPL split0", "ARPL all", "ARPL order0", "ARPL K=2", "ARPL K=4", "ARPL K=2 2-D known2",
             "ARPL K=4 2-D known4"},
    "ARPL+CS": {"ARPL+CS split0", "ARPL+CS all", "ARPL+CS (w/o ABN) split0", "ARPL+CS (w/o ABN) all",
                "ARPL+CS (w/o FT) split0", "ARPL+CS (w/o FT) all", "ARPL+CS 2-D split0"},
}
TRAINING_STAGES = {"train", "confusing", "incremental", "figures", "ablations"}


def test_each_edit_reruns_its_stages_and_retrains_only_the_runs_it_changes(repro, tmp_path):
    """README.md's table "What an edit reruns", on the smoke run (benchmarks/edit_reruns.py makes the edits one
    after another in a copy): which stages `dvc status` marks and `dvc repro` reruns, and which runs train."""
    repo, _ = repro
    rows = {row.name: row for row in _edit_reruns().measure(repo, tmp_path / "edits", plugin=False)}
    every_stage = set(yaml.safe_load((repo / "dvc.yaml").read_text())["stages"])

    noise = rows["noise"]
    assert (set(noise.marked), noise.ran, noise.trained) == ({"ood", "report"}, ["ood", "report"], [])
    bootstrap = rows["bootstrap"]
    assert (set(bootstrap.marked), bootstrap.ran, bootstrap.trained) == ({"osr"}, ["osr", "report"], [])
    figures = rows["figures"]
    assert (set(figures.marked), set(figures.ran)) == ({"figures", "ablations"}, {"figures", "ablations", "report"})
    assert figures.trained and all(" 2-D " in label or " K=" in label or " lambda=" in label
                                   for label in figures.trained)

    weight = rows["lambda"]
    assert set(weight.marked) == TRAINING_STAGES | {"ood", "closed_set", "report"}
    assert set(weight.ran) == every_stage - {"download", "data"}
    expected = set().union(*SMOKE_RUNS_OF.values()) | {"ARPL (lambda=0.5) 2-D split0"}   # Fig. 7's ARPL takes lambda
    assert set(weight.trained) == expected, "no Softmax run, no run with its own lambda (ablations, Fig. 7's lambda=0)"

    docstring, code = rows["docstring"], rows["code"]
    assert set(docstring.marked) == set(docstring.ran) == every_stage and docstring.trained == []
    assert set(code.marked) == set(code.ran) == every_stage
    assert set(code.trained) == SMOKE_RUNS_OF["GCPL"], "a real edit of arpl/methods/gcpl.py retrains GCPL's runs only"
