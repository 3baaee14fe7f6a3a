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

    The notebook is executed in a temporary file and moved to ``output`` (also on failure, so the
    traceback is there to read) only at the end. The kernel is started first (:func:`start_kernel`), so that it
    starts while this process imports papermill and prepares the notebook: forked from a server that imported
    torch (:mod:`arpl.pipeline.warm_kernel`), or a cold one that imports torch meanwhile. After the last cell
    the kernel is stopped at once rather than asked to exit: every output is in the notebook by then, and an
    interpreter that imported torch takes about half a second to tear itself down, on each of the eleven stages.
    """
    kernel = start_kernel(cwd)
    try:
        return _execute(Path(source), Path(output), parameters or {}, cwd, kernel)
    finally:
        _stop_kernel(kernel)   # nbclient stops it after the last cell; this, if papermill failed before using it


KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}   # of every notebook run
KERNEL_PRELOAD = "import torch"   # what every stage notebook imports first, seconds of it


def start_kernel(cwd: str | Path = "."):
    """Start the ``python3`` kernel of a stage notebook in ``cwd`` and return its (asynchronous) kernel manager,
    without waiting for it: it runs :data:`KERNEL_PRELOAD` before it answers (at once in a warm kernel), and
    nbclient waits for that. The same arguments as nbclient's own start (an in-memory IPython history)."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    kernel = AsyncKernelManager(kernel_name="python3", kernel_spec_manager=_kernel_specs())
    run_sync(kernel.start_kernel)(cwd=str(cwd), extra_arguments=[
        "--HistoryManager.hist_file=:memory:", f"--IPKernelApp.exec_lines={[KERNEL_PRELOAD]!r}"])
    return kernel


def _kernel_specs():
    """Jupyter's kernel specs, with the python kernel started warm (:mod:`arpl.pipeline.warm_kernel`)."""
    from jupyter_client.kernelspec import KernelSpecManager

    from arpl.pipeline.warm_kernel import kernel_argv

    class WarmKernelSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            spec = super().get_kernel_spec(kernel_name)
            spec.argv = kernel_argv(spec.argv)
            return spec

    return WarmKernelSpecs()


def _stop_kernel(kernel) -> None:
    from jupyter_core.utils import run_sync

    if run_sync(kernel.is_alive)():
        run_sync(kernel.shutdown_kernel)(now=True)


def _handed_over(kernel) -> type:
    """A kernel manager class for nbclient whose "new" manager is the started ``kernel``: nbclient then uses it
    as its own (no second kernel is started) and stops it, and its client, after the last cell."""
    class HandedOver(type(kernel)):
        def __new__(cls, *args, **kwargs):
            return kernel

    return HandedOver


CONVERTED = Path(__file__).resolve().parents[1] / "__pycache__" / "notebooks"   # ignored by git and DVC


def converted(source: str | Path) -> Path:
    """``source`` (jupytext) as an ``.ipynb`` file with the ``python3`` kernel, ready for papermill: converted once
    per text of the source and version of jupytext, and kept in :data:`CONVERTED` under their hash (importing
    jupytext takes 0.2-0.7 s, in each stage)."""
    from importlib.metadata import version

    from arpl.io import save_text

    text = Path(source).read_bytes()
    target = CONVERTED / f"{hashlib.sha256(text + version('jupytext').encode()).hexdigest()}.ipynb"
    if not target.is_file():
        import jupytext
        import nbformat

        notebook = jupytext.read(source)
        notebook.metadata["kernelspec"] = KERNELSPEC
        save_text(nbformat.writes(notebook), target)
    return target


def _execute(source: Path, output: Path, parameters: dict, cwd: str | Path, kernel) -> Path:
    import papermill

    draft = converted(source)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        executed = Path(folder) / "executed.ipynb"
        try:
            papermill.execute_notebook(str(draft), str(executed), parameters=parameters, cwd=str(cwd),
                                       kernel_name="python3", progress_bar=False, log_output=True,
                                       stdout_file=None, stderr_file=None, shutdown_kernel="immediate",
                                       kernel_manager_class=_handed_over(kernel))
        except papermill.PapermillExecutionError as error:
            _move(executed, output)
            raise NotebookFailed(
                f"{source} failed in cell {error.exec_count} ({error.ename}: {error.evalue}). "
                f"The executed notebook with the full traceback is {output}.") from None
        _move(executed, output)
    return output


def param_value(values: dict, key: str):
    """The value of dotted ``key`` (e.g. ``figures.enabled``) in the params ``values``; a ValueError names a missing
    key. (:mod:`arpl.pipeline.stage_deps` counts ``--when KEY`` as reading ``KEY``.)"""
    value = values
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise ValueError(f"params.yaml has no key {key!r} (asked for by a stage's --when); "
                             f"fix the stage's cmd in dvc.yaml")
        value = value[part]
    return value


def write_switched_off(output: str | Path, stage: str, key: str, value, outs: list[str]) -> Path:
    """Record a stage that ``params.yaml`` switches off: a one-cell notebook at ``output`` saying so and
    which key turns it on, an empty folder for each output folder and ``{}`` for each metrics file in
    ``outs`` (so DVC finds every declared output)."""
    import nbformat

    from arpl.io import save_text

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
