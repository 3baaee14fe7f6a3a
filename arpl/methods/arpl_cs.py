"""ARPL+CS (paper Sec. 4, Algorithm 2): ARPL trained with confusing samples, and the two ablations of Table 4
and Fig. 10. The loss is ARPL's (with its entropy term, Eq. 17-19); what differs is how it is trained."""

from __future__ import annotations

from arpl.methods.base import ConfusingVariant
from arpl.methods.registry import register_variant

_PAPER = "Chen et al., Adversarial Reciprocal Points Learning for Open Set Recognition, IEEE TPAMI 2021"

ARPL_CS = register_variant(ConfusingVariant(
    name="cs", display_name="ARPL+CS", method="ARPL", abn=True, focus_training=True, colour="tab:purple",
    reference=f"{_PAPER}, Sec. 4 and Algorithm 2; the authors' osr.py with --cs"))
WITHOUT_ABN = register_variant(ConfusingVariant(
    name="cs-no-abn", display_name="ARPL+CS (w/o ABN)", method="ARPL", abn=False, focus_training=True,
    ablation=True,
    reference=f"{_PAPER}, Sec. 5.5.2 (Table 4, Fig. 10): without the auxiliary batch norm of Sec. 4.2"))
WITHOUT_FOCUS_TRAINING = register_variant(ConfusingVariant(
    name="cs-no-ft", display_name="ARPL+CS (w/o FT)", method="ARPL", abn=True, focus_training=False,
    ablation=True, reference=f"{_PAPER}, Sec. 5.5.2 (Table 4, Fig. 10): without focus training (step 6 of Algorithm 2)"))
