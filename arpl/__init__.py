"""arpl: a reference companion for 'Adversarial Reciprocal Points Learning for Open Set Recognition'
(Chen, Peng, Wang, Tian; IEEE TPAMI). Three layers, each importing only the ones below it (docs/architecture.md):

- ``arpl.stages``: one module per pipeline stage, named like its notebook (data, train, confusing, osr, ood,
  closed_set, incremental, figures, ablations, report), plus the download stage and the training plan;
- ``arpl.pipeline``: the plumbing that turns ``params.yaml`` into runs: schema and validation, profiles, run
  specs and folders, trained runs, the worker pool, the notebook runner, the report pages, derived DVC deps;
- the library, which your own code imports: ``data`` (datasets, splits, batches), ``models`` (backbones with
  auxiliary BN, the DCGAN pair), ``methods`` (Softmax / GCPL / RPL / ARPL losses, Eq. 6-19), ``training``
  (Algorithms 1 and 2, specs, checkpoints, DDP), ``scores``, ``metrics`` (AUROC, OSCR Eq. 21-22, TNR, DTACC),
  ``stats``, ``evaluate``, ``figures``, ``paper`` (the published numbers), ``registry``, ``io``, ``portable``.
"""

__version__ = "0.1.0"

from arpl.portable import apply_backend_flags as _apply_backend_flags  # noqa: E402

_apply_backend_flags()  # run.portable_kernels: oneDNN / NNPACK off in every process (arpl.portable)
