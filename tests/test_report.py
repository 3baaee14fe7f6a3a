"""The report site: notebooks rendered without code, the index page, failing-cell detection (arpl/pipeline/report/pages.py)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from arpl.pipeline.report import pages

ONE_PIXEL_PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")


def _executed_notebook() -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    figure = nbformat.v4.new_output("display_data", data={"image/png": ONE_PIXEL_PNG, "text/plain": "<Figure>"})
    table = nbformat.v4.new_output("execute_result", execution_count=1, data={
        "text/html": "<table><tr><th>AUROC</th></tr><tr><td>OUTPUT_TABLE_CELL 84.9</td></tr></table>",
        "text/plain": "AUROC 84.9"})
    noise = nbformat.v4.new_output("stream", name="stderr", text="STDERR_NOISE warning\n")
    printed = nbformat.v4.new_output("stream", name="stdout", text="STDOUT_SUMMARY epoch 1\n")
    hidden = nbformat.v4.new_code_cell("HIDDEN_CELL_TOKEN", execution_count=2, metadata={"tags": ["remove_cell"]},
                                       outputs=[nbformat.v4.new_output("stream", name="stdout", text="HIDDEN_OUT\n")])
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Open-set results\n\nMARKDOWN_VISIBLE text about **AUROC**."),
        nbformat.v4.new_code_cell("SECRET_CODE_TOKEN = show_results()", execution_count=1,
                                  outputs=[printed, noise, figure, table]),
        hidden,
    ]
    return notebook


def test_render_notebook_shows_markdown_and_outputs_but_no_code(tmp_path: Path):
    source = tmp_path / "stage.ipynb"
    nbformat.write(_executed_notebook(), source)
    written = pages.render_notebook(source, tmp_path / "site" / "stage.html", title="OSR stage")
    page = written.read_text(encoding="utf-8")
    assert written == tmp_path / "site" / "stage.html"
    assert "MARKDOWN_VISIBLE" in page and "OUTPUT_TABLE_CELL 84.9" in page and "STDOUT_SUMMARY" in page
    assert f"data:image/png;base64,{ONE_PIXEL_PNG}" in page
    assert "SECRET_CODE_TOKEN" not in page
    assert "STDERR_NOISE" not in page and "HIDDEN_CELL_TOKEN" not in page and "HIDDEN_OUT" not in page
    assert "<title>OSR stage</title>" in page and "In&nbsp;[" not in page
    assert pages.TABLE_CLASS in page
    assert [path.name for path in (tmp_path / "site").iterdir()] == ["stage.html"]


def test_render_notebook_can_keep_stderr_and_rejects_a_missing_notebook(tmp_path: Path):
    source = tmp_path / "stage.ipynb"
    nbformat.write(_executed_notebook(), source)
    page = pages.render_notebook(source, tmp_path / "stage.html", "t", drop_stderr=False).read_text()
    assert "STDERR_NOISE" in page
    with pytest.raises(ValueError, match="does not exist"):
        pages.render_notebook(tmp_path / "absent.ipynb", tmp_path / "absent.html", "t")


def test_notebook_errors_names_the_failing_cell(tmp_path: Path):
    notebook = _executed_notebook()
    failure = nbformat.v4.new_output("error", ename="ValueError", evalue="\x1b[31msplit 7 does not exist\x1b[0m",
                                     traceback=["Traceback..."])
    notebook.cells.append(nbformat.v4.new_code_cell("\ntrain(split=7)\nreport()", execution_count=3, outputs=[failure]))
    failed, clean = tmp_path / "failed.ipynb", tmp_path / "clean.ipynb"
    nbformat.write(notebook, failed)
    nbformat.write(_executed_notebook(), clean)
    assert pages.notebook_errors(failed) == ["cell 3 (In [3]: train(split=7)): ValueError: split 7 does not exist"]
    assert pages.notebook_errors(clean) == []


def test_dataframe_html_formats_numbers_and_escapes_text():
    frame = pd.DataFrame({"method": ["ARPL", "<b>GCPL</b>"], "split": [0, 1], "AUROC": [84.876, np.nan]})
    table = pages.dataframe_html(frame, float_format="{:.2f}")
    assert table.startswith(f'<table class="{pages.TABLE_CLASS}">')
    assert '<th class="num">AUROC</th>' in table and '<td class="num">84.88</td>' in table
    assert '<td class="num">1</td>' in table and pages.MISSING_VALUE in table
    assert "&lt;b&gt;GCPL&lt;/b&gt;" in table and "<b>" not in table
    assert table.count("<tr>") == 3
    with pytest.raises(ValueError, match="float_format"):
        pages.dataframe_html(frame, float_format="{:.1f} {}")


def test_build_index_links_every_page_and_shows_the_headline(tmp_path: Path):
    (tmp_path / "01_data.html").write_text("<html></html>")
    (tmp_path / "02_osr.html").write_text("<html></html>")
    stage_pages = [{"title": "Data", "file": "01_data.html", "summary": "Splits & sample images"},
             {"title": "Open-set recognition", "file": "02_osr.html", "summary": "Tables 1-2"},
             {"title": "Class-incremental", "file": "09_incremental.html", "summary": "Fig. 13"}]
    headline = pages.dataframe_html(pd.DataFrame({"method": ["ARPL"], "AUROC": [84.9]}))
    facts = {"profile": "cpu-default", "dataset": "fashion-mnist", "splits": "0, 1, 2", "epochs": "8",
             "device": "cpu", "wall time": "12 min", "git commit": "abc1234"}
    index = pages.build_index(tmp_path, stage_pages, headline, facts, notes=["NOTE_TEXT about MNIST"])
    page = index.read_text(encoding="utf-8")
    assert index == tmp_path / "index.html"
    for entry in stage_pages:
        assert f'href="{entry["file"]}"' in page and entry["title"] in page
    assert "Splits &amp; sample images" in page and headline in page
    for key, value in facts.items():
        assert f"<dt>{key}</dt><dd>{value}</dd>" in page
    assert "NOTE_TEXT about MNIST" in page
    assert page.count("page not built") == 1 and page.index("page not built") > page.index("09_incremental.html")
    assert "<script" not in page and not re.search(r'(src|href)="(https?:)?//', page)
    assert "nth-child(even)" in page and "text-align: right" in page


def test_build_index_rejects_a_page_without_a_file(tmp_path: Path):
    with pytest.raises(ValueError, match="title and a file"):
        pages.build_index(tmp_path, [{"title": "Data"}], "", {})


class _ExternalResources(HTMLParser):
    """Collects every URL a page would fetch from the network: ``src``/``href``/``srcset``/``data`` of scripts,
    stylesheets, images and embeds, and ``url(...)`` / ``@import`` in CSS (style elements and attributes)."""

    TAGS = {"script", "link", "img", "iframe", "source", "video", "audio", "embed", "object", "input", "track"}
    CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])\s*((?:https?:)?//[^'")\s]+)""", re.IGNORECASE)

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_style = False

    @staticmethod
    def _remote(value: str) -> bool:
        return value.strip().lower().startswith(("http:", "https:", "//"))

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if tag in self.TAGS and name in ("src", "href", "srcset", "data"):
                self.found += [f"<{tag} {name}={value}>" for part in value.split(",") if self._remote(part)]
            if name == "style":
                self.found += self.CSS_URL.findall(value)
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.found += self.CSS_URL.findall(re.sub(r"/\*.*?\*/", "", data, flags=re.DOTALL))


def test_report_pages_load_nothing_from_the_network(tmp_path: Path):
    """A rendered stage page and the index are complete offline: no script, stylesheet, image or font is fetched
    (nbconvert's lab template would load require.js, MathJax, Mermaid and the widgets manager from CDNs), even
    for a notebook with LaTeX, a Mermaid diagram and widget state."""
    notebook = _executed_notebook()
    notebook.cells.append(nbformat.v4.new_markdown_cell(
        "Eq. 12: $\\max(0, d_e - R + 1)$ and $$L = L_c + \\lambda L_o$$\n\n```mermaid\ngraph LR; a-->b\n```"))
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "version_major": 2, "version_minor": 0, "state": {}}}
    source = tmp_path / "stage.ipynb"
    nbformat.write(notebook, source)
    stage = pages.render_notebook(source, tmp_path / "site" / "04_osr.html", "OSR")
    headline = pages.dataframe_html(pd.DataFrame({"method": ["ARPL"], "AUROC": [84.9]}))
    index = pages.build_index(tmp_path / "site", [{"title": "OSR", "file": "04_osr.html", "summary": "Tables 1-2"}],
                               headline, {"profile": "smoke"})
    for page in (stage, index):
        html = page.read_text(encoding="utf-8")
        scanner = _ExternalResources()
        scanner.feed(html)
        assert scanner.found == [], (page.name, scanner.found)
        assert not re.search(r"<script[^>]*\ssrc=", html), page.name
        assert not [cdn for cdn in ("cdnjs", "unpkg", "jsdelivr", "require.js", "mathjax") if cdn in html.lower()], page.name
    html = stage.read_text(encoding="utf-8")
    assert "MARKDOWN_VISIBLE" in html and f"data:image/png;base64,{ONE_PIXEL_PNG}" in html
    assert "max(0, d_e - R + 1)" in html, "LaTeX still shows (as its source) without MathJax"
    assert "jp-RenderedHTMLCommon" in html, "nbconvert's lab styles are still inlined"
