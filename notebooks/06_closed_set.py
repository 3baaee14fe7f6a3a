# %% [markdown]
# # Closed-set accuracy (Sec. 5.5.1, Table 4)
#
# Does learning to reject unknowns cost accuracy on the known classes? The paper's Table 4 says no: ARPL
# and ARPL+CS match or beat Softmax, and both ablations (without ABN, without FT) lose accuracy. Here the
# all-class models of the `train` and `confusing` stages are evaluated on the full test set.

# %% tags=["parameters"]
params_file = "params.yaml"

# %%
from arpl import paper
from arpl.figures.bars import bar_table
from arpl.figures.saving import publish
from arpl.atomic import save_json, save_table
from arpl.pipeline.report import spread
from arpl.pipeline.runs import trained
from arpl.pipeline.report.display import Note, Table, plus_minus
from arpl.pipeline.notebook import enter_repository_root
from arpl.pipeline.params.declared import stage_params
from arpl.stages import closed_set

enter_repository_root()
params = stage_params("closed_set", params_file)
table = closed_set.accuracy_table(params, trained.all_class_models(params))
save_table(table, "runs/closed_set/table4.csv")
save_json({r.method: {"ACC": round(r.ACC, 2)} for r in table.itertuples()}, "metrics/closed_set.json")
Table(table, "One row per all-class model: its closed-set accuracy on every test image, in percent.")

# %% [markdown]
# ## How far to trust a difference
# Each accuracy is one all-class model; beside it, its seed-to-seed sigma measured by `benchmarks/seed_spread.py`
# and its distance to the best method, marked "not meaningful" where smaller than 2 sqrt(sigma_a^2 + sigma_b^2).

# %%
measured_under = [spread.training_settings(params)]  # what shapes these numbers
seed_spread = spread.load_spread(measured_under)
marked = spread.with_spread(table, seed_spread, "closed_set", "ACC")
save_table(marked, "runs/closed_set/spread_marks.csv")
Table(marked, "One row per model: accuracy, its seed-to-seed sigma and its distance to the best method.") \
    if seed_spread is not None else Note(spread.spread_note(measured_under, None))

# %% [markdown]
# ## Beside the paper
# Where the paper reports this dataset's closed-set accuracy (Table 4: CIFAR10, CIFAR100; Table 6:
# ImageNet-1K), our accuracy stands beside it, with the difference (ours - paper, in points). The paper used
# ResNet-34 (Table 4) and ResNet-18 (Table 6): with another network the row keeps both numbers but no difference
# (`note`), since that compares networks, not implementations.

# %%
comparison = closed_set.paper_comparison(table, params.data.dataset, params.model.backbone)
if comparison is not None:
    save_table(comparison, "runs/closed_set/paper_vs_ours.csv")
Table(plus_minus(comparison), "One row per method and dataset the paper reports: its accuracy beside ours, in "
      "percent.") if comparison is not None else Note("The paper reports no closed-set accuracy for this dataset.")

# %% [markdown]
# ## The paper's Table 4
# ResNet-34 on CIFAR10 / CIFAR100 / Air-300, for the ordering of methods.

# %%
Table(paper.paper_results(table="table4").pivot_table(index="method", columns="dataset", values="mean",
                                                     sort=False).reset_index(),
      "The paper's Table 4: closed-set accuracy (percent) of each method on each dataset, ResNet-34.")

# %%
figure = bar_table({"accuracy": dict(zip(table.method, table.ACC / 100))},
                   "Table 4 on this profile: closed-set accuracy", "accuracy (%)")
publish(figure, "runs/closed_set/figures/table4_accuracy.png")
