# %% [markdown]
# # Building the report
#
# Every executed stage notebook is rendered to HTML without code; `reports/index.html` links them and
# shows the headline table and the facts the numbers rest on.

# %% tags=["parameters"]
params_file = "params.yaml"

# %%
from pathlib import Path

from arpl import paper
from arpl.figures.bars import anchor_bars
from arpl.figures.saving import save_figure
from arpl.atomic import save_table
from arpl.pipeline.report import claims, pages, spread
from arpl.pipeline.notebook import enter_repository_root
from arpl.pipeline.params.declared import stage_params
from arpl.stages import report

enter_repository_root()
params = stage_params("report", params_file)
reports = Path("reports")

# %% [markdown]
# ## Stage pages

# %%
stage_pages = report.render_stage_pages("runs/notebooks", reports)
[p["file"] for p in stage_pages]

# %% [markdown]
# ## Headline table and the facts behind it

# %%
headline = report.headline_table()
facts = report.facts(params)
seed_spread = spread.load_spread(spread.all_settings(params))
means = report.auroc_means()
if means:
    headline["AUROC vs best"] = headline.method.map(spread.versus_best(means, seed_spread))
notes = [note for note in (paper.reference_note(params.data.dataset), report.spread_note(),
                           spread.spread_note(spread.all_settings(params), seed_spread)) if note]
headline_html = pages.dataframe_html(headline)
headline

# %% [markdown]
# ## Seed-to-seed spread
# How far another seed (or another CPU, whose kernels round differently: `docs/reproducibility.md`) moves each
# number, measured by `benchmarks/seed_spread.py` for these settings, beside the spread between splits; then the
# differences between methods (open-set AUROC, row minus column), marked "not meaningful" where smaller than the
# spread.

# %%
if seed_spread is not None:
    spread_html = pages.dataframe_html(spread.spread_table(seed_spread, report.own_per_split()))
    differences = spread.method_differences(means, seed_spread) if means else None
    headline_html += ("<h2>Seed-to-seed spread</h2>" + spread_html
                      + ("<h3>Differences between methods (AUROC, row - column)</h3>"
                         + pages.dataframe_html(differences.reset_index()) if differences is not None else ""))
    display_tables = (spread.spread_table(seed_spread, report.own_per_split()), differences)
else:
    display_tables = "not measured for these settings"
display_tables

# %% [markdown]
# ## Split by split against the authors' code
# On Fashion-MNIST, what the authors' own code scored on the same splits (`arpl/anchors_fashion_mnist.csv`,
# Softmax and ARPL) stands beside each of our methods, with the difference (ours - anchor).

# %%
anchors = report.anchor_comparison(params)
if anchors is not None:
    figure = anchor_bars(anchors)
    save_figure(figure, reports / "anchors_auroc.png")
    headline_html += ("<h2>Split by split: ours vs the authors' code (anchors)</h2>"
                      f'<p class="note">{report.anchor_note(params)}</p>'
                      + pages.dataframe_html(anchors) + pages.image_html(reports / "anchors_auroc.png", "AUROC per split"))
anchors

# %% [markdown]
# ## Claims: every number of the paper's tables and each figure
# One row per number of Tables 1-6 and per figure, with its status for this run (reproduced here, not run by this
# profile, not implemented, not comparable) on `reports/claims.html` and in `metrics/claims.csv`; the front page
# counts each status. Beside them, how far the authors' AUROC convention (a tied pair counts against) lies from
# ours on this run's own scores.

# %%
gaps = report.convention_gaps()
claims_table = claims.claims(params, report.comparisons(), report.stages_run("runs/notebooks"), seed_spread)
save_table(claims_table.round(2), "metrics/claims.csv")
counts = claims.status_counts(claims_table)
pages.build_page(reports / "claims.html", "Claims: the paper's tables and figures against this run",
                 claims.page_body(claims_table, gaps), warning=report.quick_warning(params))
notes += [note for note in (report.convention_note(gaps),) if note]
headline_html += ('<h2>Claims: the paper against this run</h2><p>Every number of Tables 1-6 and each figure, one '
                  'row each, with its status for this run: <a href="claims.html">the claims page</a> '
                  '(<code>metrics/claims.csv</code>).</p>' + pages.dataframe_html(counts))
counts

# %% [markdown]
# ## Time per stage
# Wall time of each stage notebook in its last run (papermill's record), for the budget of the profile. A stage
# rerun after its models were trained (same settings and training code) reuses their checkpoints, so its time is
# then only that of loading and evaluating them.

# %%
times = report.stage_times("runs/notebooks")
headline_html += ("<h2>Time per stage (s)</h2><p>Each stage notebook's last run; a stage that reused trained "
                  "checkpoints shows only its evaluation time.</p>" + pages.dataframe_html(times, float_format="{:.0f}"))
pages.build_index(reports, stage_pages, headline_html, facts, notes=notes, warning=report.quick_warning(params))
times
