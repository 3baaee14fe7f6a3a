"""Run the quick run of paper profiles through the real pipeline, each in a fresh copy of this repository.

    python scripts/quick_run.py cifar10 tinyimagenet --fake-data --device cuda --out runs/quick

For each profile: copy the repository's files (``git ls-files``) into ``OUT/<profile>/repo`` as a new git
repository, write ``python -m arpl profile PROFILE --quick`` into its ``params.yaml``, optionally put synthetic
data in the real sources' on-disk layouts there (``--fake-data``: ``tests/fake_data.py``, downloads off), run
``dvc repro`` and record the seconds. Profiles run side by side (one process each, ``--jobs``). Writes
``OUT/quick_runs.csv`` (profile, status, seconds) and exits non-zero if any run failed, naming its log.
Used by ``tests/test_paper_profiles.py`` on the CPU and by step 4 of ``scripts/gpu_check.sh`` on CUDA.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arpl.data.sources import ensure_fashion_mnist  # noqa: E402
from arpl.pipeline.params import validate  # noqa: E402
from arpl.pipeline.params.quick import quick_profile_text  # noqa: E402
from tests.fake_data import fake_environment, write_profile_data  # noqa: E402


def copy_repository(target: Path) -> None:
    """The files git knows of (tracked, and untracked but not ignored) copied into ``target``; where there is no
    git repository (a lent GPU machine gets the tree without .git), every file that .gitignore does not ignore."""
    for name in repository_files(ROOT):
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name)


def repository_files(root: Path) -> list[str]:
    """Relative paths of the repository's files, as :func:`copy_repository` copies them."""
    if (root / ".git").exists() and shutil.which("git"):
        listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=root,
                                capture_output=True, text=True, check=True).stdout.split("\0")
        return [name for name in listed if name and (root / name).is_file()]
    rules = {root: [".git/"]}
    for gitignore in root.rglob(".gitignore"):
        rules.setdefault(gitignore.parent, []).extend(
            line.strip() for line in gitignore.read_text().splitlines() if line.strip() and not line.startswith("#"))
    return [str(path.relative_to(root)) for path in sorted(root.rglob("*")) if path.is_file()
            and not any(folder in path.parents and ignored(path.relative_to(folder), patterns)
                        for folder, patterns in rules.items())]


def ignored(relative: Path, patterns: list[str]) -> bool:
    """Whether a .gitignore of ``patterns`` ignores ``relative`` (to its folder), for the kinds of pattern this
    repository's .gitignore files use: ``/path`` (from the root), ``name/`` (a folder anywhere) and ``*.ext`` / ``name`` (anywhere)."""
    parts = relative.parts
    for pattern in patterns:
        anchored, folder, body = pattern.startswith("/"), pattern.endswith("/"), pattern.strip("/")
        if anchored:
            if relative.as_posix() == body or relative.as_posix().startswith(body + "/"):
                return True
        elif any(fnmatch.fnmatch(part, body) for part in (parts[:-1] if folder else parts)):
            return True
    return False


def _run(command: list[str], cwd: Path, env: dict, log) -> None:
    log.write(f"$ {' '.join(command)}\n")
    log.flush()
    subprocess.run(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)


def prepare(profile: str, repo: Path, fake_data: bool, changes: dict, env: dict, log) -> dict:
    """A new repository in ``repo`` holding the quick run of ``profile`` with ``changes`` ({section: {key:
    value}}) and, with ``fake_data``, synthetic data and downloads off; returns the params and adds the
    variables the run needs to ``env``."""
    repo.mkdir(parents=True)
    copy_repository(repo)
    # what `python -m arpl profile PROFILE --quick` and `python -m arpl prepare-data` do, in this process: each
    # of those commands would spend seconds importing torch
    (repo / "params.yaml").write_text(quick_profile_text(profile))
    params = yaml.safe_load((repo / "params.yaml").read_text())
    if fake_data:
        params["data"]["download"] = False
    for section, values in changes.items():
        params[section].update(values)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    if shutil.which("git"):
        for command in (["git", "init", "-q"], ["git", "add", "-A"],
                        ["git", "-c", "user.name=quick", "-c", "user.email=quick@run", "commit", "-qm", "quick run"]):
            _run(command, repo, env, log)
    else:  # DVC without git: no_scm in the repository's own (git-ignored) DVC settings
        (repo / ".dvc" / "config.local").write_text("[core]\n    no_scm = True\n")
    params = validate(params)
    ensure_fashion_mnist(repo / params.run.data_root, download=params.data.download)
    if fake_data:
        data_root = repo / params.run.data_root
        data_root.mkdir(parents=True, exist_ok=True)
        env.update(fake_environment(write_profile_data(params, data_root)))
    return params


def quick_run(profile: str, out: Path, fake_data: bool = False, changes: dict | None = None,
              extra_env: dict | None = None, stages: tuple[str, ...] = ()) -> tuple[Path, dict, float]:
    """Prepare and ``dvc repro`` the quick run of ``profile`` in ``out/<profile>/repo``, logging to
    ``out/<profile>/repro.log`` (``stages``: only those and what they need); returns the repository, its params
    and the seconds ``dvc repro`` took.
    Raises ``subprocess.CalledProcessError`` when a command fails, ValueError for an unknown profile or changes
    that params.yaml's schema refuses (both logged)."""
    folder = out / profile
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "DVC_NO_ANALYTICS": "1", **(extra_env or {})}
    with open(folder / "repro.log", "w") as log:
        try:
            params = prepare(profile, folder / "repo", fake_data, changes or {}, env, log)
        except ValueError as error:  # an unknown profile, or changes that params.yaml's schema refuses
            log.write(f"error: {error}\n")
            raise
        tic = time.monotonic()
        _run(["dvc", "repro", *stages], folder / "repo", env, log)
        return folder / "repo", params, time.monotonic() - tic


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profiles", nargs="+")
    parser.add_argument("--out", type=Path, default=Path("runs/quick"))
    parser.add_argument("--fake-data", action="store_true", help="synthetic data in the sources' layouts")
    parser.add_argument("--device", help="run.device of the runs (e.g. cuda)")
    parser.add_argument("--jobs", type=int, default=2, help="profiles run side by side")
    parser.add_argument("--stages", nargs="*", default=[], help="only these stages (and what they need)")
    args = parser.parse_args(argv)
    changes = {"run": {"device": args.device}} if args.device else {}

    def one(profile: str) -> tuple[str, str, float]:
        tic = time.monotonic()
        try:
            quick_run(profile, args.out.resolve(), args.fake_data, changes, stages=tuple(args.stages))
            return profile, "ok", time.monotonic() - tic
        except (subprocess.CalledProcessError, ValueError):
            return profile, f"FAILED (see {args.out / profile / 'repro.log'})", time.monotonic() - tic

    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(one, args.profiles))
    with open(args.out / "quick_runs.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([("profile", "status", "seconds"), *[(p, s, f"{t:.0f}") for p, s, t in results]])
    for profile, status, seconds in results:
        print(f"quick run of {profile}: {status} in {seconds:.0f} s (set-up and dvc repro)")
    return 0 if all(status == "ok" for _, status, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
