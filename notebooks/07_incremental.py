# %% [markdown]
# # Class-incremental learning with reciprocal points as bases (Sec. 5.5.4, Fig. 13)
#
# The paper trains a classifier on half of CIFAR100's classes, then adds the other classes one by one and
# represents them with a set of *bases* learned on the base classes: softmax weights, GCPL prototypes or
# ARPL reciprocal points. It reports that reciprocal points forget least. No code was published; the
# reading implemented in `arpl.stages.incremental` is:
#
# 1. train backbone and head on the first `incremental.base_classes` classes of a random class order,
#    then freeze them;
# 2. represent every image by its coefficients on the bases: the frozen head's logits over the base
#    classes ("the logit is the coefficient based on these bases");
# 3. represent every class, base or new, by the mean coefficient vector of its training images; a new
#    class brings only its own images, nothing is retrained;
# 4. after each new class, classify the test images of all seen classes by the nearest class mean
#    (cosine similarity) and report the accuracy over all seen classes.
#
# The curve is the mean over `incremental.orders` random class orders, with its standard deviation. The base
# models train on `incremental.train_per_class` images per class for `incremental.epochs` epochs (a smaller
# budget than the open-set models of Tables 1-2), side by side in one-thread processes on the CPU.

# %% tags=["parameters"]
params_file = "params.yaml"

# %%
from arpl.figures.incremental import incremental_curves
from arpl.figures.saving import publish
from arpl.atomic import save_json, save_table
from arpl.pipeline.runs import images
from arpl.pipeline.report.display import Table
from arpl.pipeline.notebook import enter_repository_root
from arpl.pipeline.params.declared import stage_params
from arpl.stages import incremental

enter_repository_root()
params = stage_params("incremental", params_file)
params = images.with_train_subset(params, params.incremental.train_per_class)
results = incremental.run_incremental(params)
save_table(results, "runs/incremental/accuracy.csv")

# %% [markdown]
# ## Accuracy over all seen classes
# Mean and standard deviation over class orders (percent), by number of classes seen.

# %%
curve = results.groupby(["method", "seen"]).accuracy.agg(["mean", "std"]).reset_index()
final = curve[curve.seen == curve.seen.max()].set_index("method")
save_json({m: {"final_accuracy": round(r["mean"], 2)} for m, r in final.iterrows()}, "metrics/incremental.json")
Table(curve.pivot(index="seen", columns="method", values="mean").reset_index().rename(columns={"seen": "classes seen"}),
      "One row per number of classes seen: each method's accuracy over all seen classes, in percent, mean over the "
      "class orders.")

# %%
figure = incremental_curves({m: {s: (g[g.seen == s].accuracy / 100).tolist() for s in sorted(g.seen.unique())}
                             for m, g in results.groupby("method")})
publish(figure, "runs/incremental/figures/fig13_incremental.png")
