# %% [markdown]
# # Training: Softmax, GCPL, RPL and ARPL
#
# This stage trains every loss of `train.methods` on every open-set trial of `data.splits`, and, when
# `train.closed_set` is on, on all classes for the out-of-distribution and closed-set stages (on
# `train.closed_set_per_class` images per class).
#
# * **Softmax**: cross-entropy on a linear layer.
# * **GCPL** (generalized convolutional prototype learning): logits are negative distances to learned
#   class prototypes, plus a pull of features to their prototype.
# * **RPL** (reciprocal point learning): logits are the distances to one *reciprocal point* per class
#   (Eq. 6 without the dot product), plus a pull of the distance towards a learnable radius.
# * **ARPL** (Sec. 3, Algorithm 1): distance `d = d_e - d_d` (Eq. 6), softmax with temperature (Eq. 7),
#   cross-entropy (Eq. 8) plus `lambda` times the adversarial margin constraint (Eq. 12), Eq. 14.
#
# Each epoch prints one line (loss, training accuracy, test accuracy, AUROC and OSCR with the method's own
# score, on a fixed subset of 250 test images per class: `arpl.pipeline.runs.trained.MONITOR_PER_CLASS`; the tables of
# the later stages use every test image) and writes an atomic checkpoint: an interrupted run resumes from its
# last complete epoch. On the CPU the runs are independent one-thread processes side by side, one per core
# (`run.workers`); the numbers do not depend on how many run at once.

# %% tags=["parameters"]
params_file = "params.yaml"

# %%
import pandas as pd

from arpl.atomic import save_json
from arpl.pipeline.runs import trained
from arpl.pipeline.report.display import Note, Table
from arpl.pipeline.notebook import enter_repository_root
from arpl.pipeline.params.declared import stage_params
from arpl.stages import train

enter_repository_root()
params = stage_params("train", params_file)
methods = params.train.methods

# %% [markdown]
# ## Train every method on every split
# The known classes of split *i* are the authors' list *i*; the seed of split *i* is `run.seed + i`.

# %%
runs = trained.train_stage(params, "train", methods)
summary = pd.DataFrame([{"method": method, **row} for method, rows in runs.items() for row in rows])

# %% [markdown]
# ## Last-epoch summary
# These numbers are the training-time view (the model's own score on the test images); the `osr`
# stage evaluates every model with every score, with intervals and the paper's numbers beside them.

# %%
save_json({method: {row["run"]: train.headline(row) for row in rows} for method, rows in runs.items()},
          "runs/train/summary.json")
Table(train.last_epoch_view(summary, "method"),
      "One row per model: method and run (split i, or all classes). Known-class test accuracy, AUROC and OSCR of the "
      "last epoch in percent (own score, 250 test images per class), its training loss and seconds.")

# %% [markdown]
# ## ARPL's margin, epoch by epoch
# The learned margin `R` of Eq. 12 and the share of known test images (the 250 per class of the epoch lines)
# whose margin term is still active, per split. In the authors' code form, `max(0, d_e - R + 1)` with a
# learnable `R` pushes `R` up until hardly any sample is active; from then on ARPL trains as plain
# cross-entropy on `d_e - d_d`, which explains why it behaves much like Softmax scored by its max logit.

# %%
Table(train.margin_view(params, "train", "ARPL"), "One row per epoch: ARPL's margin R and the share of known test "
      "images whose margin term is active (percent), per split.", decimals=2) \
    if "ARPL" in methods and params.data.splits else Note("ARPL was not trained on open-set splits.")
