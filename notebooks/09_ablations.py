# %% [markdown]
# # Ablations (Sec. 5.4): lambda (Fig. 8) and the number of known classes (Fig. 11)
#
# **Fig. 8.** ARPL differs from RPL in two ways: the distance adds a dot product to the Euclidean term
# (Eq. 6, "cosine") and the margin term is the adversarial margin constraint (AMC, Eq. 12) instead of
# RPL's pull towards a radius. Crossing the two gives four models: RPL, RPL+cosine, RPL+AMC and ARPL,
# each trained for every lambda of `figures.lambdas`. The paper finds RPL and RPL+cosine sensitive to
# lambda and ARPL / RPL+AMC stable. All four are scored by max distance (their logits are distances).
#
# **Fig. 11.** With K known classes (K in `figures.known_counts`, random K-class splits): (a) ARPL's learned
# margin R, which the paper finds grows with K; (b) the AUROC of Softmax, GCPL and ARPL.

# %% tags=["parameters"]
params_file = "params.yaml"

# %%
from arpl.figures.ablations import lambda_curves, margin_and_auroc_vs_known
from arpl.figures.saving import publish
from arpl.atomic import save_json, save_table
from arpl.pipeline.runs import images
from arpl.pipeline.report.display import Table
from arpl.pipeline.notebook import enter_repository_root
from arpl.pipeline.params.declared import stage_params
from arpl.stages import ablations

enter_repository_root()
params = stage_params("ablations", params_file)
params = images.with_train_subset(params, params.figures.train_per_class)

# %% [markdown]
# ## Train the models of both ablations
# Budget: `figures.train_per_class` training images per class and `figures.epochs` epochs per model (less than
# the open-set models of Tables 1-2). They are independent, so they are trained first, side by side in
# one-thread processes (one per CPU core); each epoch prints one line. The cells below only load them.

# %%
ablations.train_models(params)

# %% [markdown]
# ## Lambda (Fig. 8)
# AUROC and closed-set accuracy (percent), split `figures.split`.

# %%
lambdas = ablations.run_lambda_ablation(params)
save_table(lambdas, "runs/ablations/fig8_lambda.csv")
Table(lambdas.pivot(index="lambda", columns="variant", values="AUROC").reset_index(),
      "One row per lambda: each variant's AUROC in percent on split figures.split.")

# %%
figure = lambda_curves({v: list(zip(g["lambda"], g.AUROC / 100)) for v, g in lambdas.groupby("variant", sort=False)},
                       "AUROC", "Fig. 8: AUROC against lambda")
publish(figure, "runs/ablations/figures/fig8_lambda.png")

# %% [markdown]
# ## Number of known classes (Fig. 11)

# %%
counts = ablations.run_known_count_ablation(params)
save_table(counts, "runs/ablations/fig11_known_classes.csv")
save_json({f"{r.method} K={r.known}": {"AUROC": round(r.AUROC, 2)} for r in counts.itertuples()},
          "runs/ablations/fig11_summary.json")
Table(counts.rename(columns={"known": "known classes", "ACC": "accuracy"}),
      "One row per method and number of known classes: AUROC and known-class accuracy in percent; for ARPL its "
      "learned margin R (Fig. 11).")

# %%
arpl_rows = counts[counts.method == "ARPL"]
figure = margin_and_auroc_vs_known({"ARPL": list(zip(arpl_rows.known, arpl_rows.R))},
                                   {m: list(zip(g.known, g.AUROC / 100)) for m, g in counts.groupby("method", sort=False)})
publish(figure, "runs/ablations/figures/fig11_known_classes.png")
