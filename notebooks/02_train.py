# %% [markdown]
# # Training: Softmax, GCPL, RPL and ARPL
#
# This stage trains one loss (the `method` parameter; DVC runs the stage once per entry of
# `train.methods`) on every open-set trial of `data.splits`, and, when `train.closed_set` is on, on all
# classes for the out-of-distribution and closed-set stages.
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
# score) and writes an atomic checkpoint: an interrupted run resumes from its last complete epoch.

# %% tags=["parameters"]
method = "ARPL"
params_file = "params.yaml"

# %%
import pandas as pd

from arpl import experiment
from arpl.config import load_params
from arpl.io import save_json

params = load_params(params_file)

# %% [markdown]
# ## Train every split
# The known classes of split *i* are the authors' list *i*; the seed of split *i* is `run.seed + i`.

# %%
rows = experiment.train_stage(params, "train", method)
summary = pd.DataFrame(rows)
summary

# %% [markdown]
# ## Last-epoch summary
# These numbers are the training-time view (the model's own score on the test images); the `osr`
# stage evaluates every model with every score, with intervals and the paper's numbers beside them.

# %%
save_json({row["run"]: experiment.headline(row) for row in rows}, f"runs/train/{method}/summary.json")
summary.set_index("run")[[c for c in ("test_acc", "auroc", "oscr", "loss") if c in summary]].round(4)
