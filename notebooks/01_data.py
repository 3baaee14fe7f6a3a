# %% [markdown]
# # Data and open-set splits
#
# The open-set protocol of Sec. 5.2: of a dataset's classes, some are *known* (seen in training) and the
# rest *unknown* (met only at test time). Each trial uses one of the authors' five published lists of
# known classes (`arpl/data/splits.json`, from their `split.py`); Fashion-MNIST and KMNIST reuse the MNIST
# lists, as the authors' own Fashion-MNIST runs in `arpl/anchors_fashion_mnist.csv` did.
#
# This stage checks the raw data against known checksums, builds the trials of `data.splits` and shows
# what a known and an unknown image look like in each.

# %% tags=["parameters"]
params_file = "params.yaml"

# %%
from arpl.figures.images import image_grid
from arpl.figures.saving import publish
from arpl.atomic import save_json, save_table
from arpl.pipeline.checks import check_data
from arpl.pipeline.report.display import Note, Table
from arpl.pipeline.notebook import enter_repository_root
from arpl.pipeline.params.declared import stage_params
from arpl.stages import data

enter_repository_root()
params = stage_params("data", params_file)

# %% [markdown]
# ## The raw data
# Every file the pipeline reads is verified (md5) before anything is trained on it.

# %%
Note("\n".join(f"- {line}" for line in check_data(params)))

# %% [markdown]
# ## The trials
# Image counts are after the per-class subsets of `data.train_per_class` / `data.test_per_class`.
# A split whose known classes repeat another split's is flagged: the authors' lists repeat some
# (SVHN, CIFAR10 and CIFAR+N), which makes their "five trials" partly four. Split `i` is the authors' list `i`;
# their `osr.py` ran trial `i` on list `len - i - 1`, so means over all five lists agree with theirs, but a
# per-split comparison with their logs pairs our split `i` with their trial `4 - i`.

# %%
splits = data.describe_splits(params)
Table(splits, "One row per open-set trial: its known and unknown classes and image counts.")

# %%
save_table(splits, "runs/data/splits.csv")
save_json(splits.to_dict(orient="records"), "runs/data/splits.json")

# %% [markdown]
# ## Known and unknown samples

# %%
figure = image_grid(data.sample_rows(params))
publish(figure, "runs/data/samples.png")
