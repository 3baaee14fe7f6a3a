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

params = load_params(params_file)
reports = Path("reports")

# %% [markdown]
# ## Stage pages

# %%
pages = summary.render_stage_pages("runs/notebooks", reports)
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
