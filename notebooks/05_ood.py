# %% [markdown]
# # Out-of-distribution detection (Sec. 5.3, Table 3; Fig. 9)
#
# The models trained on *all* classes of the dataset face test images of other datasets. The paper uses
# CIFAR10 as in-distribution and CIFAR100 (near) / SVHN (far) as out-of-distribution; on the default
# profile the in-distribution set is Fashion-MNIST's test set and the out-of-distribution sets are
# scikit-learn's handwritten digits, Gaussian and uniform noise, and MNIST / KMNIST when their files are
# present (`ood.sets`).
#
# Metrics, with the in-distribution images as positives (Sec. 5.3): TNR of out-of-distribution images at
# 95% TPR, AUROC, detection accuracy (best threshold, equal priors), and the areas under the
# precision-recall curves with in- (AUIN) or out-of-distribution (AUOUT) images as positives; and OSCR,
# which Tables 5 (DomainNet: real-A in; real-B, clipart and quickdraw out) and 6 (ImageNet-1K in, ImageNet-O
# out) report beside AUROC.

# %% tags=["parameters"]
params_file = "params.yaml"

# %%
from arpl import paper
from arpl.figures.osr import roc_oscr_grid
from arpl.figures.saving import publish
from arpl.atomic import save_json, save_table
from arpl.pipeline.report import spread
from arpl.pipeline.runs import trained
from arpl.pipeline.report.display import Note, Table, plus_minus
from arpl.pipeline.notebook import enter_repository_root
from arpl.pipeline.params.declared import stage_params
from arpl.pipeline.runs.images import available_ood_sets
from arpl.stages import ood

enter_repository_root()
params = stage_params("ood", params_file)
Note("Out-of-distribution sets used: " + ", ".join(available_ood_sets(params)) + ".")
models = trained.all_class_models(params)

# %% [markdown]
# ## Table 3 on this profile
# Percentages, each model scored by its own rule (MSP; ARPL and its variants: max distance). The columns
# `*_authors` give the same metrics as the authors' code computes them (their `metric_ood`: a tied pair counts
# against in AUROC, TNR at the point nearest to 95% TPR, AUIN / AUOUT as trapezoids with padded end points; their
# `compute_oscr`): the convention of the paper's tables.

# %%
predictions = ood.predict_sets(params, models)
table = ood.ood_table(predictions)
save_table(table, "runs/ood/table3.csv")
save_json({m: {r.out: round(r.AUROC, 2) for r in g.itertuples()} for m, g in table.groupby("method", sort=False)},
          "metrics/ood_auroc.json")
Table(table.pivot(index="method", columns="out", values="AUROC").reset_index(),
      "AUROC (percent) of each all-class model against each out-of-distribution set, own score.")

# %%
Table(table, "One row per model and out-of-distribution set: every metric of Table 3, in percent.")

# %% [markdown]
# ## ROC and OSCR curves against each set (Fig. 9)
# One column per out-of-distribution set: ROC on top, OSCR (log FPR) below, every all-class model, own score. The
# paper draws this for MNIST against KMNIST, SVHN and CIFAR100 (the `mnist` profile's sets).

# %%
roc, oscr, areas = ood.fig9_curves(predictions)
title = "Fig. 9: ROC (top) and OSCR (bottom) per out-of-distribution set"
publish(roc_oscr_grid(roc, oscr, oscr_areas=areas, title=title), "runs/ood/figures/fig9_roc_oscr.png") \
    if roc else "no out-of-distribution set is available"

# %% [markdown]
# ## One model per set: how far to trust a difference
# Each AUROC above is one all-class model. `benchmarks/seed_spread.py` trained those models with several seeds
# (`docs/reproducibility.md`); beside each AUROC stands its seed-to-seed sigma and its distance to the best
# method on the same set, marked "not meaningful" where smaller than 2 sqrt(sigma_a^2 + sigma_b^2). Noise sets
# are the least stable: there another seed, or another CPU's rounding, can move one model by many points.

# %%
measured_under = [spread.ood_settings(params)]  # what shapes these numbers
seed_spread = spread.load_spread(measured_under)
marked = spread.with_spread(table[["method", "out", "AUROC"]], seed_spread, "ood_auroc", "AUROC", by="out")
save_table(marked, "runs/ood/spread_marks.csv")
Table(marked, "One row per model and set: AUROC, its seed-to-seed sigma and its distance to the best method on "
      "that set.") if seed_spread is not None else Note(spread.spread_note(measured_under, None))

# %% [markdown]
# ## Beside the paper
# Where the paper ran this in-distribution set (CIFAR10: Table 3; DomainNet real-A: Table 5; ImageNet-1K:
# Table 6), our number stands beside the paper's for every out-set and metric it reports, with the difference
# (ours - paper, in points; the paper's Softmax is "Cross Entropy" in Table 3). `ours_mean` is computed under the
# published numbers' convention (`convention`: the authors' `metric_ood` and `compute_oscr`), `ours_definition` by
# the paper's definitions. With another network than the paper's (Tables 3 and 5: ResNet-34, Table 6: ResNet-18)
# a row keeps both numbers but no difference (`note`).

# %%
comparison = ood.paper_comparison(table, params.data.dataset, params.model.backbone)
if comparison is not None:
    save_table(comparison, "runs/ood/paper_vs_ours.csv")
Table(plus_minus(comparison), "One row per method, out-set and metric the paper reports: the paper's number "
      "beside ours, in percent.") if comparison is not None else Note("The paper has no out-of-distribution table "
                                                                      "for this dataset.")

# %% [markdown]
# ## The paper's table
# Table 5 (DomainNet real-A in, ResNet-34) on the DomainNet profile, Table 6 (ImageNet-1K in, ImageNet-O out,
# ResNet-18) on the ImageNet profile, and otherwise Table 3 (CIFAR10 in, ResNet-34): on any other profile a
# different experiment, shown for the pattern across methods rather than the values.

# %%
Table(paper.ood_reference(params.data.dataset),
      "The paper's table: one row per method, a column per out-of-distribution set and metric, in percent.")
