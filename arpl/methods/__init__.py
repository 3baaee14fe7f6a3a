"""Open-set methods ("losses"): Softmax, GCPL, RPL and ARPL (paper Sec. 3), and ARPL+CS (Sec. 4).

A method is one class (:class:`Method`) in one module: its parameters (softmax weights, prototypes or
reciprocal points), its loss, its logits, its own open-set score, its display name and colour, and the paper
it implements. The pipeline finds methods only through the registry (:mod:`arpl.methods.registry`); the
built-in ones below register themselves the way a user's method does (docs/extending.md).

Defaults reproduce the authors' code (iCGY96/ARPL, ``loss/``) numerically; where the
paper's text differs (docs/paper_vs_code.md), ``ARPLHead(margin_form="paper")`` and
``ARPLHead.entropy_term(form="paper")`` give the literal equations.

Temperature: the code divides logits by ``temp`` before the softmax; the paper multiplies
distances by ``γ`` (Eq. 7). Here ``temperature`` is the code's ``temp``, so ``γ = 1/temperature``.
"""

from arpl.methods.base import ConfusingVariant, Method
from arpl.methods.registry import (build_head, colours, display_name, get_method, get_variant, head_options,
                                   method_names, register_method, register_variant, registered_name, variant_names)

# The built-in methods, registered in this order (the order of the tables and of method_names()).
from arpl.methods import softmax, gcpl, rpl, arpl, arpl_cs  # noqa: E402,F401  isort: skip

__all__ = ["ConfusingVariant", "Method", "build_head", "colours", "display_name", "get_method", "get_variant",
           "head_options", "method_names", "register_method", "register_variant", "registered_name",
           "variant_names"]
