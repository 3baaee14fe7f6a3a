# %% [markdown]
# # Confusing samples: ARPL+CS (Sec. 4, Algorithm 2)
#
# A generator G (DCGAN) is trained against a discriminator D (Eq. 15-16) *and* against the ARPL
# classifier: it is rewarded when its samples sit at equal distance from all reciprocal points, i.e. in
# the open space (entropy term, Eq. 17-18). The classifier is then trained on the known data plus these
# confusing samples, pushing them to the open space too (Eq. 19). Generated samples go through an
# auxiliary batch norm (ABN), so that their statistics do not pollute the known data's; after each
# confusing pass, a plain pass on the known data (focus training, FT) follows, as in the authors' code.
#
# Three variants are trained, as in Tables 3-4: **ARPL+CS**, **ARPL+CS (w/o ABN)** (one BN for both
# kinds of sample) and **ARPL+CS (w/o FT)** (no plain pass). ARPL+CS trains on every split (Tables 1-2);
# the two ablations, which the paper shows in Tables 3-4 (all classes) and Fig. 10 (one run), train on the
# all-class run and on the first `confusing.ablation_trials` splits only (null = all).
#
# The paper trains them from scratch (`confusing.init: scratch`, every paper profile). The CPU default cannot
# afford that at full data (an epoch of Algorithm 2 costs about five plain epochs), so with
# `confusing.init: arpl` each variant starts from the trained ARPL model of the same split and runs
# `confusing.epochs` epochs of Algorithm 2 on `confusing.train_per_class` images per class at learning rate
# `confusing.lr`: read its rows as "ARPL, then a short confusing-sample fine-tune", not as the paper's ARPL+CS.

# %% tags=["parameters"]
params_file = "params.yaml"

# %%
import pandas as pd

from arpl.figures.feature_space import feature_scatter
from arpl.figures.images import image_grid, real_and_generated_rows
from arpl.figures.saving import publish
from arpl.figures.training import training_curves
from arpl.atomic import save_json
from arpl.pipeline.runs import images, trained
from arpl.pipeline.report.display import Table
from arpl.pipeline.notebook import enter_repository_root
from arpl.pipeline.params.declared import stage_params
from arpl.pipeline.runs import checkpoint_path, method_name
from arpl.stages import confusing, train

enter_repository_root()
params = stage_params("confusing", params_file)
variants = params.confusing.variants
run, data = images.showcase(params)  # the first split, or the all-class run when there are no splits

# %% [markdown]
# ## Train the variants
# Each epoch line shows the discriminator, generator and classifier losses of the confusing pass, then
# the plain pass's loss and accuracy, and the test accuracy / AUROC / OSCR with the max-distance score (on 250
# test images per class, as in the `train` stage).

# %%
runs = trained.train_stage(params, "confusing", variants)
summary = pd.DataFrame([{"variant": method_name(v), **row} for v, rows in runs.items() for row in rows])
save_json({method_name(v): {row["run"]: train.headline(row) for row in rows} for v, rows in runs.items()},
          "runs/confusing/summary.json")
Table(train.last_epoch_view(summary, "variant"),
      "One row per model: variant and run (split i, or all classes). Known-class test accuracy, AUROC and OSCR of the "
      "last epoch in percent (max-distance score, 250 test images per class); the plain pass's loss and the "
      "discriminator's and generator's losses of the confusing pass; the epoch's seconds.")

# %% [markdown]
# ## Generated confusing samples (Fig. 6b)
# Real known training images on the top and bottom rows; in between, samples of the ARPL+CS generator of
# the first split (without splits: of the all-class run). They should look like the known data's domain but
# belong to no known class.

# %%
cs_variant = "cs" if "cs" in variants else variants[0]
checkpoint = checkpoint_path("confusing", cs_variant, run)
generator = confusing.load_generator(checkpoint)
fake = confusing.generate(generator, 30, seed=params.run.seed)
figure = image_grid(real_and_generated_rows(data.train_known.images, fake))
publish(figure, "runs/confusing/figures/fig6b_confusing_samples.png")

# %% [markdown]
# ## Where confusing samples land (Fig. 4)
# Known test images (coloured by class), unknown test images (grey) and generated samples (red; as many as the
# known test images, at most 500) in the feature space of the plain ARPL model and of ARPL+CS (both fed the same
# generated images; features projected on their two principal axes when wider than 2-D). The paper expects
# ARPL+CS to map the generated samples to the low-response centre, where the unknowns are, and away from the
# known classes.

# %%
fake = confusing.generate(generator, min(500, len(data.test_known)), seed=params.run.seed)  # as many as known
views = {}
for title, stage, name in (("ARPL", "train", "ARPL"), ("ARPL+CS", "confusing", cs_variant)):
    path = checkpoint_path(stage, name, run)
    if path.exists():
        views[title] = confusing.feature_view(path, data.test_known.images, data.test_known.labels.numpy(),
                                                      data.test_unknown.images, fake)
for title, view in views.items():
    figure = feature_scatter(view["features"], view["labels"], None, f"Fig. 4: {title}, {run}", extra=view["extra"])
    display(publish(figure, f"runs/confusing/figures/fig4_{title.replace('+', '_')}.png"))

# %% [markdown]
# ## Learning curves of the variants (Fig. 10)
# Test accuracy on the known classes and AUROC against the unknown classes after every epoch (250 test images
# per class), for the run shown above (the all-class run has no unknown classes: its loss is shown instead).
# The paper reports that without ABN training collapses and that FT improves AUROC.

# %%
histories = {method_name(v): confusing.history(checkpoint_path("confusing", v, run)) for v in variants}
arpl_path = checkpoint_path("train", "ARPL", run)
if arpl_path.exists():
    histories["ARPL"] = confusing.history(arpl_path)
curves = ["test_acc", "auroc"] if run != "all" else ["test_acc", "loss"]  # the all-class run has no unknowns
figure = training_curves(histories, curves, f"Fig. 10: ARPL+CS variants, {run}")
publish(figure, "runs/confusing/figures/fig10_cs_variants.png")
