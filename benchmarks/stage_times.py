"""Where a stage's time goes: each stage's wall time in `dvc repro`, split into its notebook's kernel (start and
shutdown), its first code cell (imports, params, data) and its other cells, with the slowest cell named.

    python benchmarks/stage_times.py RUN [--rerun] [--output benchmarks/stage_times.csv]

RUN is a run of the pipeline (a repository where `dvc repro` ran). With ``--rerun``, `dvc repro --force` reruns
all 11 stages there first and is timed stage by stage: in a finished run nothing trains (every checkpoint's
fingerprint matches) and the predictions come from `runs/cache/predictions`, which is the "no-training rerun of
all 11 stages" of README's edit table. Without it, only the notebooks' own records (papermill's durations) are
read. One row per stage goes to ``--output`` and a table to the terminal.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

STAGE_LINE = "Running stage '"


def timed_repro(repo: Path) -> tuple[dict[str, float], float]:
    """`dvc repro --force` in ``repo``: seconds from each stage's start to the next one's (the last: to the end),
    and the total."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "DVC_NO_ANALYTICS": "1"}
    process = subprocess.Popen(["dvc", "repro", "--force"], cwd=repo, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    start, starts = time.monotonic(), []
    for line in process.stdout:
        if line.startswith(STAGE_LINE):
            starts.append((line[len(STAGE_LINE):].split("'")[0], time.monotonic()))
    if process.wait() != 0:
        raise SystemExit(f"dvc repro --force failed in {repo}")
    end = time.monotonic()
    ends = [at for _, at in starts[1:]] + [end]
    return {name: finish - begin for (name, begin), finish in zip(starts, ends)}, end - start


def notebook_times(notebook: Path) -> dict:
    """Papermill's record of an executed stage notebook: its seconds, the kernel's share (seconds not spent in a
    cell), the first code cell after the parameters and the slowest other cell."""
    executed = json.loads(notebook.read_text())
    if "papermill" not in executed["metadata"]:  # a stage that params.yaml switches off runs no notebook
        return {"slowest_cell": "switched off"}
    cells = [cell for cell in executed["cells"] if cell["cell_type"] == "code"
             and "parameters" not in cell["metadata"].get("tags", [])
             and "injected-parameters" not in cell["metadata"].get("tags", [])]
    seconds = [cell["metadata"].get("papermill", {}).get("duration") or 0.0 for cell in cells]
    total = executed["metadata"]["papermill"]["duration"]
    slowest = max(range(1, len(cells)), key=lambda i: seconds[i], default=None)
    return {"notebook_s": total, "kernel_s": total - sum(seconds), "first_cell_s": seconds[0] if seconds else 0.0,
            "other_cells_s": sum(seconds[1:]),
            "slowest_cell": "" if slowest is None else "".join(cells[slowest]["source"]).splitlines()[0][:60],
            "slowest_cell_s": 0.0 if slowest is None else seconds[slowest]}


def stage_notebooks(repo: Path) -> dict[str, Path]:
    """Each stage's executed notebook, from dvc.yaml's outputs."""
    import yaml

    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    found = {}
    for name, stage in stages.items():
        for out in stage.get("outs", []):
            path = next(iter(out)) if isinstance(out, dict) else out
            if path.endswith(".ipynb"):
                found[name] = repo / path
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--rerun", action="store_true", help="time a `dvc repro --force` of every stage first")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("stage_times.csv"))
    args = parser.parse_args(argv)
    repo = args.run.resolve()
    walls, total = timed_repro(repo) if args.rerun else ({}, None)
    notebooks = stage_notebooks(repo)
    date = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rows = []
    for name in walls or notebooks:
        row = {"date": date, "stage": name, "wall_s": walls.get(name)}
        if name in notebooks and notebooks[name].is_file():
            row.update(notebook_times(notebooks[name]))
        rows.append(row)
    columns = ["date", "stage", "wall_s", "notebook_s", "kernel_s", "first_cell_s", "other_cells_s",
               "slowest_cell_s", "slowest_cell"]
    print("| " + " | ".join(columns[1:]) + " |\n|" + "---|" * (len(columns) - 1))
    for row in rows:
        print("| " + " | ".join(_cell(row.get(column)) for column in columns[1:]) + " |")
    if total is not None:
        print(f"dvc repro --force: {total:.1f} s for {len(walls)} stages")
    new = not args.output.exists()
    with open(args.output, "a", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        if new:
            writer.writeheader()
        writer.writerows({column: _cell(row.get(column)) for column in columns} | {"date": date} for row in rows)
    return 0


def _cell(value) -> str:
    return "" if value is None else f"{value:.1f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    sys.exit(main())
