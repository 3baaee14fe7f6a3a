"""Run a stage notebook: jupytext source (``notebooks/*.py``) -> papermill-executed ``.ipynb``.

The sources stay output-free (they are DVC dependencies); a failing cell makes the run exit non-zero with
the notebook and the cell named, so ``dvc repro`` stops and caches nothing of that stage.

jupytext, nbformat and papermill are imported where they are used: every stage notebook imports this module
(:func:`enter_repository_root`), and together they take seconds to import.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

# An optional module that jsonschema (nbformat's validator) imports when it is installed (JupyterLab brings it) to
# check IRI formats; it compiles a grammar on import, seconds per stage, and no notebook has IRI fields to check.
SLOW_OPTIONAL_IMPORTS = ("rfc3987_syntax",)


def enter_repository_root() -> Path:
    """Make the repository root the working directory and return it; every stage notebook calls this first.

    The pipeline runs a notebook from the root, where ``params.yaml``, ``data/`` and ``runs/`` are; JupyterLab
    starts its kernel in ``notebooks/``. The first folder from the working directory up that holds both
    ``dvc.yaml`` and ``params.yaml`` becomes the working directory (nothing changes when already there), so
    "Run All" reads and writes what ``dvc repro`` would.
    """
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").is_file() and (folder / "params.yaml").is_file():
            os.chdir(folder)
            return folder
    raise FileNotFoundError(f"no folder from {here} up holds both dvc.yaml and params.yaml, so this kernel is not "
                            f"inside a clone of the repository; start it there (e.g. `jupyter lab` in the clone)")


class NotebookFailed(RuntimeError):
    """A cell of a stage notebook raised; the message names the notebook, the cell and the error."""


def skip_slow_optional_imports() -> None:
    """Leave out :data:`SLOW_OPTIONAL_IMPORTS` in this process: call before nbformat or nbconvert is imported."""
    for name in SLOW_OPTIONAL_IMPORTS:
        sys.modules.setdefault(name, None)   # None: `import name` raises ImportError, which jsonschema expects


skip_slow_optional_imports()  # every function here that reads or writes a notebook imports nbformat


def run_notebook(source: str | Path, output: str | Path, parameters: dict | None = None,
                 cwd: str | Path = ".") -> Path:
    """Execute ``source`` with ``parameters`` injected; write the executed notebook to ``output``.

    papermill (nbclient) starts the ``python3`` kernel in ``cwd``, with IPython's history in memory (nbclient's
    default), and stops it at once after the last cell. The notebook is executed in a temporary file and moved to
    ``output`` (also on failure, so the traceback is there to read) only at the end.
    """
    import papermill

    source, output = Path(source), Path(output)
    draft = converted(source)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        executed = Path(folder) / "executed.ipynb"
        try:
            papermill.execute_notebook(str(draft), str(executed), parameters=parameters or {}, cwd=str(cwd),
                                       kernel_name="python3", progress_bar=False, log_output=True,
                                       stdout_file=None, stderr_file=None, shutdown_kernel="immediate")
        except papermill.PapermillExecutionError as error:
            _move(executed, output)
            raise NotebookFailed(
                f"{source} failed in cell {error.exec_count} ({error.ename}: {error.evalue}). "
                f"The executed notebook with the full traceback is {output}.") from None
        _move(executed, output)
    return output


KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}   # of every notebook run
CONVERTED = Path(__file__).resolve().parents[1] / "__pycache__" / "notebooks"   # ignored by git and DVC


def converted(source: str | Path) -> Path:
    """``source`` (jupytext) as an ``.ipynb`` file with the ``python3`` kernel, ready for papermill: converted once
    per text of the source and version of jupytext, and kept in :data:`CONVERTED` under their hash (importing
    jupytext takes 0.2-0.7 s, in each stage)."""
    from importlib.metadata import version

    from arpl.atomic import save_text

    text = Path(source).read_bytes()
    target = CONVERTED / f"{hashlib.sha256(text + version('jupytext').encode()).hexdigest()}.ipynb"
    if not target.is_file():
        import jupytext
        import nbformat

        notebook = jupytext.read(source)
        notebook.metadata["kernelspec"] = KERNELSPEC
        save_text(nbformat.writes(notebook), target)
    return target


def param_value(values, key: str):
    """The value of dotted ``key`` (e.g. ``figures.enabled``) in ``values`` (the parsed YAML, or validated params);
    a ValueError names a missing key."""
    value = values
    for part in key.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif not isinstance(value, dict) and part in getattr(type(value), "model_fields", {}):
            value = getattr(value, part)
        else:
            raise ValueError(f"params.yaml has no key {key!r} (asked for by a stage's --when); "
                             f"fix the stage's cmd in dvc.yaml")
    return value


def write_switched_off(output: str | Path, stage: str, key: str, value, outs: list[str]) -> Path:
    """Record a stage that ``params.yaml`` switches off: a one-cell notebook at ``output`` saying so and
    which key turns it on, an empty folder for each output folder and ``{}`` for each metrics file in
    ``outs`` (so DVC finds every declared output)."""
    import nbformat

    from arpl.atomic import save_text

    for out in map(Path, outs):
        if out.suffix == ".json":
            save_text("{}\n", out)
        else:
            out.mkdir(parents=True, exist_ok=True)
    text = (f"# {stage}: switched off\n\nThis profile sets `{key}` to `{value!r}`, so this stage computes nothing. "
            f"Set `{key}` to a true value (a non-empty list for `data.splits`) in `params.yaml` and run "
            f"`dvc repro` to compute it.")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)])
    notebook.metadata["kernelspec"] = KERNELSPEC
    notebook.metadata["switched_off_by"] = key
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, output)
    return output


def switched_off_by(notebook: str | Path) -> str | None:
    """The params key that switched off the stage of an executed notebook, or None if it ran."""
    import nbformat

    return nbformat.read(notebook, as_version=4).metadata.get("switched_off_by")


def _move(executed: Path, output: Path) -> None:
    if executed.exists():
        os.replace(executed, output) if executed.stat().st_dev == output.parent.stat().st_dev \
            else output.write_bytes(executed.read_bytes())


def parse_parameters(pairs: list[str]) -> dict:
    """``["method=ARPL", "epochs=3"]`` -> ``{"method": "ARPL", "epochs": 3}`` (YAML-typed values)."""
    import yaml

    parameters = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"notebook parameter {pair!r} must look like name=value")
        name, value = pair.split("=", 1)
        parameters[name] = yaml.safe_load(value)
    return parameters
