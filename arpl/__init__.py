"""arpl: a reference companion for 'Adversarial Reciprocal Points Learning for Open Set Recognition'
(Chen, Peng, Wang, Tian; IEEE TPAMI). Modules, one concept each:

- data: datasets, transforms, open-set splits, batches     - models: backbones with auxiliary BN, DCGAN
- heads: Softmax / GCPL / RPL / ARPL losses (Eq. 6-19)     - scores: open-set scores (Eq. 20 and others)
- metrics, stats: AUROC, OSCR (Eq. 21-22), TNR, DTACC...   - training: Algorithms 1 and 2
- registry: datasets and backbones by name or import path  - config: the params.yaml schema
- profile_data, run_specs, runs, train_runs: params.yaml -> images, specs, run folders and seeds, trained runs
- figures: the paper's figures, one module per family      - report, paper: the HTML report, the paper's numbers
"""

__version__ = "0.1.0"

from arpl.portable import apply_backend_flags as _apply_backend_flags  # noqa: E402

_apply_backend_flags()  # run.portable_kernels: oneDNN / NNPACK off in every process (arpl.portable)
