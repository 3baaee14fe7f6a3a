"""The report site: each executed stage notebook rendered to HTML without code, and an index page.

A reader opens ``reports/index.html`` and follows links to one page per pipeline stage; the pages
show only markdown, tables and figures (images embedded as data URIs, so a page is one file). When a
stage fails, :func:`notebook_errors` names the failing cell of the executed notebook.

The HTML and CSS are jinja2 templates in ``arpl/pipeline/report/templates/`` (package data, loaded with a
:class:`jinja2.PackageLoader`): ``document.html.j2`` is the report's own page that ``index.html.j2`` (the front
page) and ``page.html.j2`` (e.g. the claims page) fill in, with ``page.css`` and ``table.css.j2`` inline;
``log.html.j2`` and ``image.html.j2`` are fragments of a stage page; ``offline.html.j2`` is the nbconvert
template of a stage page; ``table.html.j2`` is :func:`dataframe_html`'s table (:mod:`.display`).
"""

from __future__ import annotations

import base64
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import pandas as pd
from jinja2 import Environment, PackageLoader, PrefixLoader

from arpl.atomic import save_text
from arpl.pipeline.report.display import MISSING_VALUE, TABLE_CLASS, dataframe_html  # noqa: F401 (the report's API)
from arpl.pipeline.notebook import skip_slow_optional_imports

skip_slow_optional_imports()
import nbformat  # noqa: E402  (after the line above: nbformat and nbconvert import jsonschema)
from nbconvert import HTMLExporter  # noqa: E402
from nbconvert.preprocessors import TagRemovePreprocessor  # noqa: E402

DEFAULT_TITLE = "Adversarial Reciprocal Points Learning for Open Set Recognition: reproduction"
REMOVE_CELL_TAG = "remove_cell"
REMOVE_OUTPUT_TAG = "remove_output"

# The report's own pages and fragments (every value HTML-escaped but what is marked ``safe``: the CSS and the HTML
# fragments). A file's last newline is kept (``keep_trailing_newline``): it ends a page; a fragment trims its own.
_TEMPLATES = PackageLoader("arpl.pipeline.report", "templates")
_ENVIRONMENT = Environment(loader=_TEMPLATES, autoescape=True, keep_trailing_newline=True)
_ENVIRONMENT.globals["table_class"] = TABLE_CLASS


def _render(template: str, **values) -> str:
    """The file ``template`` of ``templates/`` filled in with ``values`` (each HTML-escaped unless ``safe``)."""
    return _ENVIRONMENT.get_template(template).render(**values)


TABLE_CSS = _render("table.css.j2")  # the report's tables and folded logs, also on each stage page
PAGE_CSS = _render("page.css")  # the rest of the report's own pages

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


LOG_LINES_SHOWN = 12  # a cell's printed output longer than this is folded, opened with a click


def _fold_long_logs(notebook: nbformat.NotebookNode) -> None:
    """Each code cell's printed lines as one block; a block longer than :data:`LOG_LINES_SHOWN` lines (a training
    log of one line per epoch and run) folded behind a one-line summary, so that a page reads as its tables."""
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        printed = [output for output in cell.get("outputs", [])
                   if output.get("output_type") == "stream" and output.get("name") == "stdout"]
        lines = "".join(output["text"] for output in printed).splitlines()
        if len(lines) <= LOG_LINES_SHOWN:
            continue
        log = _render("log.html.j2", count=len(lines), log="\n".join(lines))
        folded = nbformat.v4.new_output("display_data", data={"text/html": log})
        first = cell.outputs.index(printed[0])
        cell.outputs = [output for output in cell.outputs if output not in printed]
        cell.outputs.insert(first, folded)


def _drop_stderr_outputs(notebook: nbformat.NotebookNode) -> None:
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [output for output in cell.get("outputs", [])
                            if not (output.get("output_type") == "stream" and output.get("name") == "stderr")]


# nbconvert's lab template without the scripts it fetches from CDNs (templates/offline.html.j2), found under the
# prefix "arpl/" so that the report's own templates (index.html.j2 is one) do not hide lab's of the same name.
OFFLINE_TEMPLATE = "arpl/offline.html.j2"


@lru_cache(maxsize=1)
def _exporter() -> HTMLExporter:
    """One exporter for every page of a process: it compiles its templates once (over a second per exporter)."""
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
                            embed_images=True, template_name="lab", template_file=OFFLINE_TEMPLATE,
                            extra_loaders=[PrefixLoader({"arpl": _TEMPLATES})])
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags={REMOVE_CELL_TAG}, remove_all_outputs_tags={REMOVE_OUTPUT_TAG},
                              enabled=True), enabled=True)
    return exporter


def notebook_to_html(notebook: nbformat.NotebookNode, title: str, drop_stderr: bool = True) -> str:
    """Render a notebook to one HTML string with no code cells and no prompts (nbconvert's lab template).

    Markdown, tables and figures remain (images inline as base64 data URIs, CSS inline, no scripts, so the
    page is one file that loads nothing from the network; LaTeX shows as its source); cells tagged
    ``remove_cell`` vanish and cells tagged ``remove_output`` lose their outputs; stderr streams
    (warnings, progress bars) are dropped unless ``drop_stderr`` is False; a long printed log is folded
    (:func:`_fold_long_logs`). Error outputs are kept.
    """
    notebook = nbformat.from_dict(notebook)
    if drop_stderr:
        _drop_stderr_outputs(notebook)
    _fold_long_logs(notebook)
    body, _ = _exporter().from_notebook_node(notebook, resources={"metadata": {"name": title}})
    return body.replace("</head>", f"<style>\n{TABLE_CSS}</style>\n</head>", 1)


def render_notebook(ipynb: str | Path, html: str | Path, title: str, drop_stderr: bool = True) -> Path:
    """Render the executed notebook ``ipynb`` to the file ``html`` (see :func:`notebook_to_html`), atomically."""
    ipynb = Path(ipynb)
    if not ipynb.is_file():
        raise ValueError(f"Notebook {ipynb} does not exist; run its pipeline stage first (dvc repro).")
    notebook = nbformat.read(ipynb, as_version=4)
    return save_text(notebook_to_html(notebook, title, drop_stderr), html)


def _cell_label(index: int, cell: nbformat.NotebookNode) -> str:
    lines = [line.strip() for line in str(cell.get("source", "")).splitlines() if line.strip()]
    first_line = lines[0] if lines else ""
    if len(first_line) > 80:
        first_line = first_line[:77] + "..."
    count = cell.get("execution_count")
    details = [f"In [{count}]"] if count is not None else []
    details += [first_line] if first_line else []
    return f"cell {index}" + (f" ({': '.join(details)})" if details else "")


def notebook_errors(ipynb: str | Path) -> list[str]:
    """The error outputs of an executed notebook as ``"cell I (In [N]: first line): EName: evalue"`` strings.

    ``I`` is the 0-based index of the cell in the executed notebook (markdown cells included, also
    those papermill inserts), ``N`` its execution count, then the first line of its source.
    Papermill leaves the traceback of a failing cell in the output notebook; this names that cell.
    An empty list means no cell failed.
    """
    ipynb = Path(ipynb)
    if not ipynb.is_file():
        raise ValueError(f"Notebook {ipynb} does not exist; did the stage start at all?")
    notebook = nbformat.read(ipynb, as_version=4)
    errors = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                evalue = _ANSI_ESCAPE.sub("", str(output.get("evalue", "")))
                errors.append(f"{_cell_label(index, cell)}: {output.get('ename', 'Error')}: {evalue}")
    return errors


def image_html(path: str | Path, alt: str) -> str:
    """An ``<img>`` holding the PNG at ``path`` as a data URI, so the page stays one self-contained file."""
    return _render("image.html.j2", data=base64.b64encode(Path(path).read_bytes()).decode("ascii"), alt=alt)


def _page_links(reports_dir: Path, pages: Sequence[Mapping[str, str]]) -> list[dict]:
    """Each page of the index with its link (``href``) and whether its file is there (``built``)."""
    links = []
    for page in pages:
        missing = [key for key in ("title", "file") if not page.get(key)]
        if missing:
            raise ValueError(f"Report page {dict(page)} lacks {missing}; give each page a title and a file.")
        links.append({**page, "href": Path(str(page["file"])).as_posix(),
                      "built": (reports_dir / str(page["file"])).is_file()})
    return links


def index_html(pages: Sequence[Mapping[str, str]], headline_html: str, facts: Mapping[str, str],
               reports_dir: Path, title: str = DEFAULT_TITLE, notes: Iterable[str] = (), warning: str = "") -> str:
    """The index page as one HTML string: a warning first (a quick run), then title, run facts, notes,
    headline table, links to stage pages."""
    return _render("index.html.j2", title=title, warning=warning, facts=facts, notes=list(notes),
                   headline_html=headline_html, pages=_page_links(Path(reports_dir), pages))


def page_html(title: str, body_html: str, warning: str = "") -> str:
    """A report page other than the index (e.g. the claims page) as one HTML string: the index's style, a
    warning first (a quick run), a link back to the index, the title and ``body_html`` (an HTML fragment)."""
    return _render("page.html.j2", title=title, warning=warning, body_html=body_html)


def build_page(path: str | Path, title: str, body_html: str, warning: str = "") -> Path:
    """Write :func:`page_html` to ``path`` atomically: a self-contained page (inline CSS, no scripts)."""
    return save_text(page_html(title, body_html, warning), path)


def build_index(reports_dir: str | Path, pages: Sequence[Mapping[str, str]], headline_html: str,
                facts: Mapping[str, str], title: str = DEFAULT_TITLE, notes: Iterable[str] = (),
                warning: str = "") -> Path:
    """Write ``reports_dir/index.html``: a self-contained page (inline CSS, no scripts, no external assets).

    ``pages`` is a list of ``{"title", "file", "summary"}`` with ``file`` relative to ``reports_dir``
    (a page whose file is absent is listed and flagged "page not built"); ``headline_html`` is an HTML
    fragment (e.g. from :func:`dataframe_html`) inserted as is; ``facts`` (profile, dataset, splits,
    images per split, epochs, device, wall time, git commit, ...) are shown in the given order;
    ``notes`` are highlighted paragraphs (e.g. :func:`arpl.paper.reference_note`); ``warning`` (e.g.
    :func:`arpl.stages.report.quick_warning`) is the page's first line.
    """
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    text = index_html(pages, headline_html, facts, reports_dir, title, notes, warning)
    return save_text(text, reports_dir / "index.html")
