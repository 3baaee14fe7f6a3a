# %% [markdown]
# # Building the report
#
# Every executed stage notebook is rendered to HTML without code; `reports/index.html` links them and
# shows the headline table and the facts the numbers rest on.

# %% tags=["parameters"]
params_file = "params.yaml"

# %%
from pathlib import Path

from arpl import paper, report, summary
from arpl.config import load_params
from arpl.notebook import switched_off_by

params = load_params(params_file)
reports = Path("reports")

# %% [markdown]
# ## Stage pages

# %%
pages = []
for pattern, title, text in summary.STAGE_PAGES:
    for notebook in sorted(Path("runs/notebooks").glob(f"{pattern}.ipynb")):
        page_title = title if pattern == notebook.stem else f"{title}: {notebook.stem.split('_', 2)[-1]}"
        report.render_notebook(notebook, reports / f"{notebook.stem}.html", page_title)
        off = switched_off_by(notebook)
        pages.append({"title": page_title, "file": f"{notebook.stem}.html",
                      "summary": f"switched off in this profile ({off})" if off else text})
[p["file"] for p in pages]

# %% [markdown]
# ## Headline table and the facts behind it

# %%
headline = summary.headline_table()
facts = summary.facts(params)
notes = [note for note in (paper.reference_note(params["data"]["dataset"]), summary.spread_note()) if note]
anchors = summary.anchor_comparison(params)
headline_html = report.dataframe_html(headline)
if anchors is not None:
    headline_html += "<h2>Same work, authors' code (anchors) vs ours, split by split</h2>" + report.dataframe_html(anchors)
report.build_index(reports, pages, headline_html, facts, notes=notes)
headline
