"""The report site: each executed stage notebook rendered to HTML without code, and an index page.

A reader opens ``reports/index.html`` and follows links to one page per pipeline stage; the pages
show only markdown, tables and figures (images embedded as data URIs, so a page is one file). When a
stage fails, :func:`notebook_errors` names the failing cell of the executed notebook.
"""

from __future__ import annotations

import base64
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import pandas as pd
from jinja2 import DictLoader, Environment

from arpl.io import save_text
from arpl.pipeline.report.display import MISSING_VALUE, TABLE_CLASS, dataframe_html  # noqa: F401 (the report's API)
from arpl.pipeline.notebook import skip_slow_optional_imports

skip_slow_optional_imports()
import nbformat  # noqa: E402  (after the line above: nbformat and nbconvert import jsonschema)
from nbconvert import HTMLExporter  # noqa: E402
from nbconvert.preprocessors import TagRemovePreprocessor  # noqa: E402

DEFAULT_TITLE = "Adversarial Reciprocal Points Learning for Open Set Recognition: reproduction"
REMOVE_CELL_TAG = "remove_cell"
REMOVE_OUTPUT_TAG = "remove_output"

TABLE_CSS = f"""
table.{TABLE_CLASS} {{ border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em;
  font-variant-numeric: tabular-nums; }}
table.{TABLE_CLASS} th, table.{TABLE_CLASS} td {{ padding: 0.3em 0.75em; border: none;
  border-bottom: 1px solid #e3e6ea; text-align: left !important; vertical-align: top; }}
table.{TABLE_CLASS} thead th {{ border-bottom: 2px solid #8a939c; background: #f3f5f7; font-weight: 600; }}
table.{TABLE_CLASS} tbody tr:nth-child(even) {{ background: #f7f9fb; }}
table.{TABLE_CLASS} tbody tr:nth-child(odd) {{ background: #ffffff; }}
table.{TABLE_CLASS} tbody tr:hover {{ background: #eef3f8; }}
table.{TABLE_CLASS} th.num, table.{TABLE_CLASS} td.num {{ text-align: right !important; }}
details.log summary {{ color: #57606a; cursor: pointer; }}
"""

PAGE_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #1f2328; max-width: 62em; margin: 2em auto; padding: 0 1.2em; line-height: 1.5; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #e3e6ea; padding-bottom: 0.2em; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1.2em; }
dl.facts dt { font-weight: 600; color: #57606a; }
dl.facts dd { margin: 0; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
p.note { background: #fff8e1; border-left: 4px solid #e0a800; padding: 0.5em 0.8em; }
p.warning { background: #fdecea; border-left: 4px solid #b42318; padding: 0.5em 0.8em; font-weight: 600; }
ul.pages { list-style: none; padding: 0; }
ul.pages li { margin: 0.6em 0; }
ul.pages a { font-weight: 600; color: #0a58ca; text-decoration: none; }
ul.pages a:hover { text-decoration: underline; }
ul.pages .summary { color: #57606a; }
span.missing { color: #b42318; font-weight: 600; }
"""

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
        log = _render("log", count=len(lines), log="\n".join(lines))
        folded = nbformat.v4.new_output("display_data", data={"text/html": log})
        first = cell.outputs.index(printed[0])
        cell.outputs = [output for output in cell.outputs if output not in printed]
        cell.outputs.insert(first, folded)


def _drop_stderr_outputs(notebook: nbformat.NotebookNode) -> None:
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [output for output in cell.get("outputs", [])
                            if not (output.get("output_type") == "stream" and output.get("name") == "stderr")]


# nbconvert's lab template without the scripts it fetches from CDNs (require.js, MathJax, Mermaid, the Jupyter
# widgets manager): a stage page loads no external resource and runs no script, so it is complete offline.
OFFLINE_TEMPLATE = "arpl_offline.html.j2"
_OFFLINE_TEMPLATE_SOURCE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


@lru_cache(maxsize=1)
def _exporter() -> HTMLExporter:
    """One exporter for every page of a process: it compiles its templates once (over a second per exporter)."""
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
                            embed_images=True, template_name="lab", template_file=OFFLINE_TEMPLATE,
                            extra_loaders=[DictLoader({OFFLINE_TEMPLATE: _OFFLINE_TEMPLATE_SOURCE})])
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
    return body.replace("</head>", f"<style>{TABLE_CSS}</style>\n</head>", 1)


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
    return _render("image", data=base64.b64encode(Path(path).read_bytes()).decode("ascii"), alt=alt)


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
    return _render("index", title=title, warning=warning, facts=facts, notes=list(notes),
                   headline_html=headline_html, pages=_page_links(Path(reports_dir), pages))


def page_html(title: str, body_html: str, warning: str = "") -> str:
    """A report page other than the index (e.g. the claims page) as one HTML string: the index's style, a
    warning first (a quick run), a link back to the index, the title and ``body_html`` (an HTML fragment)."""
    return _render("page", title=title, warning=warning, body_html=body_html)


# The report's own pages (jinja2, every value HTML-escaped but what is marked ``safe``: the CSS and the HTML
# fragments): "document" is the self-contained page (inline CSS, the quick-run warning first) that "index" and
# "page" fill in; "log" is a folded log, "image" an embedded PNG.
_TEMPLATES = {
    "document": """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>{{ css | safe }}</style>
</head>
<body>
{% if warning %}<p class="warning">{{ warning }}</p>
{% endif %}{% block body %}{% endblock %}</body>
</html>
""",
    "index": """{% extends "document" %}{% block body %}<h1>{{ title }}</h1>
<p>Chen et al., "Adversarial Reciprocal Points Learning for Open Set Recognition", IEEE TPAMI.
Every stage of the pipeline has its own page below; numbers are percentages.</p>
<h2>This run</h2>
<dl class="facts">
{% for key, value in facts.items() %}<dt>{{ key }}</dt><dd>{{ value }}</dd>
{% endfor %}</dl>
{% for note in notes %}<p class="note">{{ note }}</p>
{% endfor %}<h2>Headline results</h2>
{{ headline_html | safe }}
<h2>Stages</h2>
<ul class="pages">
{% for page in pages %}<li><a href="{{ page.href }}">{{ page.title }}</a>
{%- if not page.built %} <span class="missing">(page not built)</span>{% endif -%}
<br><span class="summary">{{ page.summary }}</span></li>
{% endfor %}</ul>
{% endblock %}""",
    "page": """{% extends "document" %}{% block body %}<p><a href="index.html">&larr; the report's front page</a></p>
<h1>{{ title }}</h1>
{{ body_html | safe }}
{% endblock %}""",
    "log": ('<details class="log"><summary>Log: {{ count }} lines (click to open)</summary>'
            '<pre>{{ log }}</pre></details>'),
    "image": '<img src="data:image/png;base64,{{ data }}" alt="{{ alt }}" style="max-width: 100%">',
}


_ENVIRONMENT = Environment(loader=DictLoader(_TEMPLATES), autoescape=True, keep_trailing_newline=True)
_ENVIRONMENT.globals["css"] = PAGE_CSS + TABLE_CSS


def _render(template: str, **values) -> str:
    """Template ``template`` of :data:`_TEMPLATES` filled in with ``values`` (each HTML-escaped unless ``safe``)."""
    return _ENVIRONMENT.get_template(template).render(**values)


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
