"""Figures of the paper, one module per family, drawn from plain arrays (paper Figs. 1, 4, 6-13, Table 4).

Every drawing function takes arrays (numpy, or torch tensors, which are copied to the CPU) and returns a
``matplotlib.figure.Figure`` built with the object API: no pyplot, no GUI backend, nothing to close.
Nothing here trains, loads checkpoints or reads files; the stage modules (``arpl.stages.osr``,
``arpl.stages.figures``, ...) compute what these modules draw.

* :mod:`~arpl.figures.style`: the look shared by every figure (rc style, sizes, method and class colours).
* :mod:`~arpl.figures.inputs`: argument checks that turn arrays into numpy with errors naming the fix.
* :mod:`~arpl.figures.saving`: :func:`~arpl.figures.saving.save_figure` (atomic) and
  :func:`~arpl.figures.saving.publish` (the saved PNG as a notebook image).
* :mod:`~arpl.figures.images`: image grids (data samples, Fig. 6b) and the retrieval strip (Fig. 6a).
* :mod:`~arpl.figures.feature_space`: 2-D feature scatters (Figs. 1, 4, 7, 12) and score histograms (Fig. 7).
* :mod:`~arpl.figures.osr`: ROC and OSCR curves (Fig. 9).
* :mod:`~arpl.figures.training`: per-epoch training curves (Fig. 10).
* :mod:`~arpl.figures.ablations`: metric against lambda (Fig. 8), margin and AUROC against K (Fig. 11).
* :mod:`~arpl.figures.incremental`: accuracy against the classes seen (Fig. 13).
* :mod:`~arpl.figures.bars`: grouped bars (Table 4) and ours against the authors' code (report front page).

Conventions:

* Metric values (accuracy, AUROC, OSCR, TPR, FPR, CCR) are fractions in [0, 1], as returned by
  ``arpl.metrics``; they are drawn in percent.
* Images are uint8 arrays ``[N, C, H, W]`` (or ``[C, H, W]`` for one image) with C = 1 or 3.
* Each method keeps the same colour in every figure (the ``colour`` its class in :mod:`arpl.methods` declares);
  known classes use ``style.CLASS_COLOURS``, unknown samples are light grey and generated samples red.

This file imports none of its modules, so a stage depends only on the figure modules it draws with.
"""
