# %% [markdown]
# # Out-of-distribution detection (Sec. 5.3, Table 3)
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
from arpl.io import save_json, save_table
from arpl.pipeline import spread, trained
from arpl.pipeline.notebook import enter_repository_root
from arpl.pipeline.params import load_params
from arpl.pipeline.profile_data import available_ood_sets
from arpl.stages import ood

enter_repository_root()
params = load_params(params_file)
print("out-of-distribution sets used:", ", ".join(available_ood_sets(params)))
models = trained.all_class_models(params)

# %% [markdown]
# ## Table 3 on this profile
# Percentages, each model scored by its own rule (MSP; ARPL and its variants: max distance).

# %%
table = ood.ood_table(params, models)
save_table(table, "runs/ood/table3.csv")
save_json({m: {r.out: round(r.AUROC, 2) for r in g.itertuples()} for m, g in table.groupby("method", sort=False)},
          "metrics/ood_auroc.json")
table.pivot(index="method", columns="out", values="AUROC").round(2)

# %%
table.round(2)

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
marked.round(2) if seed_spread is not None else spread.spread_note(measured_under, None)

# %% [markdown]
# ## Beside the paper
# Where the paper ran this in-distribution set (CIFAR10: Table 3; DomainNet real-A: Table 5; ImageNet-1K:
# Table 6), our number stands beside the paper's for every out-set and metric it reports, with the difference
# (ours - paper, in points; the paper's Softmax is "Cross Entropy" in Table 3).

# %%
comparison = ood.paper_comparison(table, params["data"]["dataset"])
if comparison is not None:
    save_table(comparison, "runs/ood/paper_vs_ours.csv")
comparison.round(2) if comparison is not None else "the paper has no out-of-distribution table for this dataset"

# %% [markdown]
# ## The paper's table
# Table 5 (DomainNet real-A in, ResNet-34) on the DomainNet profile, Table 6 (ImageNet-1K in, ImageNet-O out,
# ResNet-18) on the ImageNet profile, and otherwise Table 3 (CIFAR10 in, ResNet-34): on any other profile a
# different experiment, shown for the pattern across methods rather than the values.

# %%
paper.ood_reference(params["data"]["dataset"])
