"""What an edit reruns: for each edit of README.md's table "What an edit reruns", in a finished run of the pipeline,
which stages `dvc status` marks, which stages `dvc repro` then reruns, which training runs train again, and the
seconds that `dvc repro` takes.

    python benchmarks/edit_reruns.py RUN [--work DIR] [--output benchmarks/edit_reruns.csv] [--edits NAME ...]
                                         [--no-plugin]

RUN is a finished run: a git repository where `dvc repro` has nothing to do (a fresh clone after the default
run). It is copied once into ``--work``; the edits are then made one after another in the copy, each followed by
`dvc status` and a timed `dvc repro` (so each row starts from an up-to-date run, as a user's next edit would), and
the copy is left there to look at. The last row copies the cosine-prototype method of `tests/plugins/cosine_head.py`
into `plugins/` (where a user's own code goes), adds it to `train.methods`, runs `dvc repro` once untimed, then edits
the method's code. One row per edit goes to ``--output`` and a Markdown table
to the terminal. `tests/test_pipeline.py` runs the same edits on the smoke profile and checks each row's stages and
runs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = "plugins.cosine_head:CosineHead"
PLUGIN_FILE = "plugins/cosine_head.py"   # a copy of tests/plugins/cosine_head.py, where a user puts their own
EPOCH_LINE = re.compile(r"^\[([^\]]+)\] epoch \d+/\d+ ", re.MULTILINE)
STAGE_LINE = re.compile(r"^Running stage '([^']+)'", re.MULTILINE)


@dataclass
class Rerun:
    """What one edit (``name``: its short name, ``edit``: in words) reran: the stages `dvc status` marked, the stages
    `dvc repro` ran, the runs that trained (by the label of their epoch lines) and the seconds of `dvc repro`."""

    name: str
    edit: str
    marked: list[str]
    ran: list[str]
    trained: list[str]
    seconds: float
    log: str = field(default="", repr=False)


def _env() -> dict:
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "DVC_NO_ANALYTICS": "1"}


def _run(command: list[str], repo: Path) -> str:
    result = subprocess.run(command, cwd=repo, env=_env(), capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed in {repo}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result.stdout + result.stderr


def marked_stages(repo: Path) -> list[str]:
    """The stages that `dvc status` reports as changed."""
    status = json.loads(_run(["dvc", "status", "--json"], repo) or "{}")
    return sorted(name.split("@")[0] for name, entries in status.items()
                  if any(isinstance(entry, dict) and ("changed deps" in entry or "changed outs" in entry)
                         for entry in entries))


def rerun(repo: Path, name: str, edit: str) -> Rerun:
    """`dvc status`, then a timed `dvc repro`, in ``repo`` after edit ``name`` (``edit`` in words) was made there."""
    marked = marked_stages(repo)
    tic = time.monotonic()
    log = _run(["dvc", "repro"], repo)
    seconds = time.monotonic() - tic
    return Rerun(name, edit, marked, STAGE_LINE.findall(log), sorted(set(EPOCH_LINE.findall(log))), seconds, log)


def _set_param(repo: Path, key: str, new: Callable[[object], object]) -> str:
    """Set ``key`` (``section.name``) of ``repo``'s params.yaml to ``new(old)`` by editing its line, so that the
    file's comments stay; returns the edit in words."""
    section, name = key.split(".")
    path = repo / "params.yaml"
    old = yaml.safe_load(path.read_text())[section][name]
    value = new(old)
    written = yaml.safe_dump([value], default_flow_style=True, width=1000).strip()[1:-1]
    lines, inside = path.read_text().splitlines(keepends=True), False
    for index, line in enumerate(lines):
        if re.match(r"^\w", line):
            inside = line.startswith(f"{section}:")
        elif inside and re.match(rf"^\s+{name}:", line):
            lines[index] = re.sub(rf"^(\s+{name}:\s*)[^#\n]*?(\s*(#.*)?)$", lambda m: m[1] + written + m[2], line)
            break
    path.write_text("".join(lines))
    assert yaml.safe_load(path.read_text())[section][name] == value, key
    return f"`{key}: {old} -> {value}`"


def _replace(repo: Path, file: str, old: str, new: str) -> None:
    path = repo / file
    text = path.read_text()
    if old not in text:
        raise ValueError(f"{file} no longer holds {old!r}; update benchmarks/edit_reruns.py")
    path.write_text(text.replace(old, new, 1))


GCPL = "arpl/methods/gcpl.py"
GCPL_DOCSTRING = ('"""``(logits, CE(logits / T) + weight_pl * mse(C(x), M_y) / 2)``."""',
                  '"""The logits and the loss: cross-entropy plus lambda times half the prototype distance."""')
GCPL_CODE = ("prototype_pull = own_point_distance(features, self.prototypes, labels).mean() / 2.0",
             "prototype_pull = own_point_distance(features, self.prototypes, labels).mean() / 2.5")
PLUGIN_CODE = ("SCALE = ", "SCALE = 1.25 * ")


def edits() -> list[tuple[str, Callable[[Path], str]]]:
    """The edits of the table, in the order they are made: (short name, function making it in a repository)."""
    return [
        ("noise", lambda repo: _set_param(repo, "ood.noise_count", lambda old: old // 2)),
        ("bootstrap", lambda repo: _set_param(repo, "osr.bootstrap", lambda old: max(10, old // 2))),
        ("lambda", lambda repo: _set_param(repo, "train.weight_pl", lambda old: round(old * 5, 6))),
        ("figures", lambda repo: _set_param(repo, "figures.epochs", lambda old: old - 1 if old > 1 else 2)),
        ("docstring", lambda repo: (_replace(repo, GCPL, *GCPL_DOCSTRING), f"a docstring in `{GCPL}`")[1]),
        ("code", lambda repo: (_replace(repo, GCPL, *GCPL_CODE), f"the loss in `{GCPL}` (`/ 2.0` -> `/ 2.5`)")[1]),
    ]


def add_plugin(repo: Path) -> None:
    """Put the cosine-prototype method into plugins/ and ``train.methods``, then bring the run up to date (its runs
    train)."""
    shutil.copy(repo / "tests" / "plugins" / "cosine_head.py", repo / PLUGIN_FILE)
    _set_param(repo, "train.methods", lambda old: old + [PLUGIN])
    _run(["dvc", "repro"], repo)


def plugin_edit(repo: Path) -> str:
    _replace(repo, PLUGIN_FILE, *PLUGIN_CODE)
    return f"the scale in a plugin method (`{PLUGIN_FILE}`, in `train.methods`)"


def measure(run: Path, work: Path, names: list[str] | None = None, plugin: bool = True) -> list[Rerun]:
    """Copy ``run`` to ``work`` and make the edits there one after another (``names``: a subset, by short name)."""
    shutil.rmtree(work, ignore_errors=True)
    # the environment stays where it is: the stages run `python -m arpl` from the copy, with the copy's code first
    shutil.copytree(run, work, symlinks=True, ignore=shutil.ignore_patterns(".venv"))
    if marked_stages(work):
        raise RuntimeError(f"{run} is not finished: `dvc status` marks {', '.join(marked_stages(work))}")
    rows = []
    for name, make in edits():
        if names is None or name in names:
            rows.append(rerun(work, name, make(work)))
    if plugin:
        add_plugin(work)
        rows.append(rerun(work, "plugin", plugin_edit(work)))
    return rows


def markdown(rows: list[Rerun]) -> str:
    """The README's table: edit -> stages rerun -> runs trained -> seconds."""
    lines = ["| edit | stages rerun | runs trained | seconds |", "|---|---|---|---|"]
    for row in rows:
        trained = ", ".join(row.trained) if len(row.trained) <= 6 else f"{len(row.trained)}: " + ", ".join(
            sorted({label.split(" ")[0] for label in row.trained}))
        lines.append(f"| {row.edit} | {', '.join(row.ran) or 'none'} ({len(row.ran)}) | {trained or 'none'} | "
                     f"{row.seconds:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a finished run (git repository, `dvc repro` up to date)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/edit_reruns"), help="where the copy goes")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "edit_reruns.csv")
    parser.add_argument("--edits", nargs="+", choices=[name for name, _ in edits()], help="only these edits")
    parser.add_argument("--no-plugin", action="store_true", help="leave out the plugin row")
    args = parser.parse_args(argv)
    rows = measure(args.run.resolve(), args.work.resolve(), args.edits, plugin=not args.no_plugin)
    with open(args.output, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "edit", "marked", "ran", "trained", "seconds"])
        for row in rows:
            writer.writerow([row.name, row.edit, " ".join(row.marked), " ".join(row.ran), "; ".join(row.trained),
                             f"{row.seconds:.1f}"])
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
