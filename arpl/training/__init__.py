"""Training: plain (Algorithm 1, :mod:`~arpl.training.algorithm1`) and with confusing samples (Algorithm 2
with ABN and focus training, :mod:`~arpl.training.algorithm2`), run by one epoch loop with checkpoints and
resume (:mod:`~arpl.training.loop`)."""

from arpl.training.loop import EvaluateFn, FitResult, epoch_seed, fit, write_live
from arpl.training.parts import warm_start
from arpl.training.step import NonFiniteLossError

__all__ = ["EvaluateFn", "FitResult", "NonFiniteLossError", "epoch_seed", "fit", "warm_start", "write_live"]
