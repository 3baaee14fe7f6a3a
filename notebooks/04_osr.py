# %% [markdown]
# # Open set recognition: Tables 1-2 (Sec. 5.2)
#
# Every model of the `train` and `confusing` stages is evaluated on each trial's test images: the known
# classes' test images (which it should classify) and the unknown classes' (which it should reject).
#
# * **AUROC** (Table 1): how well a score separates known from unknown test images, threshold-free.
# * **OSCR** (Table 2, Eq. 21-22): the area under the curve of the correct classification rate of known
#   images against the false positive rate of unknown images, as the acceptance threshold moves. Unlike
#   AUROC it also rewards classifying the known images correctly; its curve ends at the closed-set
#   accuracy. We compute it by the paper's definition; the authors' code has an off-by-one in pairing CCR
#   and FPR, shown as `OSCR_authors` for comparison.
# * Each model is scored by its own rule (max softmax probability; ARPL: max distance, Eq. 20) and by the
#   other scores that apply (`osr.scores`): the paper's Softmax baseline used MSP, but max logit is
#   often much stronger, so both are shown.

# %% tags=["parameters"]
params_file = "params.yaml"

# %%
from arpl import paper
from arpl.figures.osr import oscr_curves, roc_curves
from arpl.figures.saving import publish
from arpl.atomic import save_json, save_table
from arpl.pipeline.report.display import Note, Table, by_split, plus_minus
from arpl.pipeline.notebook import enter_repository_root
from arpl.pipeline.params.declared import stage_params
from arpl.stages import osr

enter_repository_root()
params = stage_params("osr", params_file)
trials = osr.predict_all(params)

# %% [markdown]
# ## Per split
# Percentages. One row per model, split and score. `AUROC_authors` and `OSCR_authors` are the same numbers as the
# authors' code computes them (their `metric_ood`: a tied known/unknown pair counts 0, ours 1/2; their
# `compute_oscr`), the convention of the paper's tables. Split `i` is the authors' published list `i`; their
# `osr.py` ran trial `i` on list `len - i - 1`, so a mean over all five lists agrees with theirs, but our split `i`
# is their trial `4 - i` in a per-split comparison with their logs.

# %%
per_split = osr.per_split_table(trials, params.osr.scores)
save_table(per_split, "runs/osr/per_split.csv")
Table(by_split(per_split, "AUROC", ["method", "score"]),
      "AUROC (percent, the paper's definition) of each model under each score, per split, and its mean over the "
      "splits it ran on. Every metric of every split: runs/osr/per_split.csv.")

# %%
Table(by_split(per_split, "OSCR", ["method", "score"]),
      "OSCR (percent, Eq. 21-22) of each model under each score, per split, and its mean.")

# %% [markdown]
# ## Mean and standard deviation over splits (Tables 1 and 2)
# The standard deviation is over the splits listed in `data.splits`, as the paper's "±" over its five
# trials; the 95% bootstrap intervals below are over test samples, within each split. The ablations
# ARPL+CS (w/o ABN) and (w/o FT), which the paper shows only in Tables 3-4 and Fig. 10, run on the first
# `confusing.ablation_trials` splits (column `splits`), so their rows are not means over every split.

# %%
summary = osr.summary_table(per_split)
save_table(summary, "runs/osr/summary.csv")
own = summary[summary.score == "own"].set_index("method")
save_json({m: {"AUROC": round(r.AUROC_mean, 2), "OSCR": round(r.OSCR_mean, 2), "ACC": round(r.ACC_mean, 2),
               "splits": int(r.splits)}
           for m, r in own.iterrows()}, "metrics/osr.json")
Table(plus_minus(summary), "One row per method and score: mean ± standard deviation over its splits, in percent "
      "(columns ending in _authors: the authors' code's convention, that of the paper's tables).")

# %%
intervals = osr.bootstrap_table(trials, params.osr.bootstrap, seed=params.run.seed) \
    if params.osr.bootstrap else None
if intervals is not None:
    save_table(intervals, "runs/osr/bootstrap.csv")
Table(intervals, "One row per model and split: the 95% bootstrap interval over test samples of AUROC and OSCR "
      "(own score), in percent.") if intervals is not None else Note("Bootstrap disabled (osr.bootstrap: 0).")

# %% [markdown]
# ## Beside the paper
# Where the paper ran this dataset, its Tables 1-2 are the target; otherwise its nearest dataset is shown
# only as a reference (the note below says which). `ours_mean` is computed under the convention of the published
# numbers (`convention`: the authors' `metric_ood` AUROC, their `compute_oscr`), `ours_definition` by the paper's
# definitions. Differences are `ours_mean` minus the paper's, in points; a row gets none where the two are not
# like for like (`note`: a row quoted from earlier work, another dataset, another network).

# %%
display(Note(paper.reference_note(params.data.dataset)))
comparison = osr.paper_comparison(summary, params.data.dataset, params.model.backbone)
if comparison is not None:
    save_table(comparison, "runs/osr/paper_vs_ours.csv")
Table(plus_minus(comparison), "One row per method and metric of Tables 1-2: the paper's mean ± std beside ours, "
      "in percent.") if comparison is not None else Note("Tables 1-2 have no row for this dataset.")

# %% [markdown]
# ## ROC and OSCR curves of the first trial
# The curves of Fig. 9 on this profile's first open-set trial (the first of `data.splits`); the paper draws Fig. 9
# for MNIST against KMNIST, SVHN and CIFAR100, which the out-of-distribution stage draws from the all-class
# models. OSCR curves use a logarithmic FPR axis, as in the paper, where the differences between methods are
# largest at low false positive rates.

# %%
split = params.data.splits[0]
roc, oscr, areas = osr.curves(trials, split)
figure = roc_curves(roc, f"ROC (as Fig. 9, top), split {split}")
display(publish(figure, "runs/osr/figures/fig9_roc.png"))
figure = oscr_curves(oscr, f"OSCR (as Fig. 9, bottom), split {split}", areas=areas)
osr.save_curves(roc, oscr, "runs/osr/curves")
publish(figure, "runs/osr/figures/fig9_oscr.png")
