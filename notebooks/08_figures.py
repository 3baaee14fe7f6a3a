# %% [markdown]
# # Feature spaces (Fig. 1, 6a, 7 and 12)
#
# To *see* what each loss does, the same small network is trained with a two-dimensional feature
# (`figures.backbone`, split `figures.split`). Known test images are coloured by class, unknown test images
# grey, and each class's reciprocal point (or prototype; softmax: weight direction) is a triangle.
#
# The paper's claims to look for (Sec. 5.4): Softmax and GCPL spread the known classes through the whole
# plane, overlapping the unknowns, which gather at low magnitude near the origin; RPL and ARPL without the
# margin term move the reciprocal points to the centre; ARPL with the margin (lambda > 0) bounds the open
# space, leaving a gap between the known classes at the periphery and the unknowns inside.

# %% tags=["parameters"]
params_file = "params.yaml"

# %%
from arpl.figures.feature_space import feature_scatter, score_histograms
from arpl.figures.images import retrieval_strip
from arpl.figures.saving import publish
from arpl.pipeline.runs import images
from arpl.pipeline.notebook import enter_repository_root
from arpl.pipeline.params.declared import stage_params
from arpl.stages import figures

enter_repository_root()
params = stage_params("figures", params_file)
params = images.with_train_subset(params, params.figures.train_per_class)
split = params.figures.split

# %% [markdown]
# ## Train the two-dimensional models
# Budget: `figures.train_per_class` training images per class and `figures.epochs` epochs per model (less than
# the open-set models of Tables 1-2). With `confusing.init: arpl`, ARPL+CS is the 2-D ARPL model fine-tuned by
# Algorithm 2 for `confusing.epochs` epochs, as in the `confusing` stage (the paper profiles train it from
# scratch). The six models of Fig. 1/7 and the four of Fig. 12 are trained first, side by side in one-thread
# processes (one per CPU core); each epoch prints one line. The cells below only load them.

# %%
figures.train_models(params)
views = figures.figure7_views(params)

# %% [markdown]
# ## Feature spaces (Fig. 1 and Fig. 7, top row)

# %%
for v in views:
    figure = feature_scatter(v.features, v.labels, v.points, f"{v.title}, split {split}", points_label=v.points_label)
    display(publish(figure, f"runs/figures/figures/fig7_{v.slug}.png"))

# %% [markdown]
# ## Distribution of the open-set score (Fig. 7, bottom row)
# Each model's own score (max softmax probability; ARPL: max distance, Eq. 20) for known and unknown
# test images: the less they overlap, the better the model rejects unknowns.

# %%
for v in views:
    figure = score_histograms(v.known_scores, v.unknown_scores, f"{v.title}: score of known vs unknown",
                              xlabel=v.score_label)
    display(publish(figure, f"runs/figures/figures/fig7_hist_{v.slug}.png"))

# %% [markdown]
# ## Retrieval from a class centre to its reciprocal point (Fig. 6a)
# With the ARPL model, walk from the centre of known class 0 to its reciprocal point and show the test
# image nearest to each position. The paper sees the retrieved images become less and less like the
# class, and unknown images appear near the reciprocal point.

# %%
arpl_view = views[4]
data = images.open_set(params, split)
strip, positions = figures.retrieval_along_line(arpl_view, data)
figure = retrieval_strip(strip, positions, f"Fig. 6a: from the centre of '{data.test_known.classes[0]}' to its reciprocal point")
publish(figure, "runs/figures/figures/fig6a_retrieval.png")

# %% [markdown]
# ## Number of known classes (Fig. 12)
# ARPL with K known classes (a random K-class split for each K); the rest are unknown.

# %%
for v in figures.figure12_views(params):
    figure = feature_scatter(v.features, v.labels, v.points, f"Fig. 12: ARPL, {v.title}")
    display(publish(figure, f"runs/figures/figures/fig12_{v.slug}.png"))
