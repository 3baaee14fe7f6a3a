"""Auxiliary batch normalisation (ABN), paper Sec. 4.2 and Fig. 5.

Known samples and the generator's confusing samples come from different distributions; mixing
them in one batch-norm layer corrupts its statistics. ABN keeps one batch-norm layer per domain
(0 = known data, 1 = generated samples). The domain in use is a plain integer attribute, switched
for a whole network by the context manager `bn_domain`; at test time only domain 0 is used.

The parameter layout (`<name>.bns.<domain>.weight`, ...) follows the authors' `MultiBatchNorm`,
so their checkpoints map onto ours key for key. Under DistributedDataParallel, a step that uses
one domain leaves the other domain's affine parameters without gradients: wrap ABN models with
`find_unused_parameters=True`. `torch.nn.SyncBatchNorm.convert_sync_batchnorm` converts the
inner layers and keeps the domain switch working. Under `torch.compile` the domain is a Python
int read in `forward`, so each domain compiles to its own graph (one recompilation, no breaks).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

KNOWN_DOMAIN = 0
GENERATED_DOMAIN = 1


class _AuxBatchNorm(nn.Module):
    """Shared logic of the 1-D and 2-D ABN layers: `num_domains` batch norms, one used at a time."""

    batch_norm_class: type[nn.modules.batchnorm._BatchNorm] = nn.BatchNorm2d

    def __init__(self, num_features: int, num_domains: int = 2, **batch_norm_options) -> None:
        super().__init__()
        if not isinstance(num_domains, int) or num_domains < 1:
            raise ValueError(f"num_domains must be a positive int, got {num_domains!r}")
        self.num_features = num_features
        self.num_domains = num_domains
        self.domain = KNOWN_DOMAIN
        self.bns = nn.ModuleList(
            self.batch_norm_class(num_features, **batch_norm_options) for _ in range(num_domains)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bns[self.domain](x)

    def extra_repr(self) -> str:
        return f"num_features={self.num_features}, num_domains={self.num_domains}, domain={self.domain}"


class AuxBatchNorm2d(_AuxBatchNorm):
    """ABN for convolutional maps [B, C, H, W] (paper Sec. 4.2): one `nn.BatchNorm2d` per domain."""

    batch_norm_class = nn.BatchNorm2d


class AuxBatchNorm1d(_AuxBatchNorm):
    """ABN for feature vectors [B, C] (paper Sec. 4.2): one `nn.BatchNorm1d` per domain."""

    batch_norm_class = nn.BatchNorm1d


def aux_batch_norms(module: nn.Module) -> list[_AuxBatchNorm]:
    """All ABN layers in `module`'s tree (works through DDP and torch.compile wrappers)."""
    return [m for m in module.modules() if isinstance(m, _AuxBatchNorm)]


def count_bn_domains(module: nn.Module) -> int:
    """Number of batch-norm domains every ABN layer of `module` supports (0 if it has none).

    A backbone built with abn=True reports 2, one built with abn=False reports 1.
    """
    layers = aux_batch_norms(module)
    return min((layer.num_domains for layer in layers), default=0)


def _check_domain(module: nn.Module, domain: int) -> None:
    if isinstance(domain, bool) or not isinstance(domain, int) or domain < 0:
        raise ValueError(f"domain must be a non-negative int (0 = known, 1 = generated), got {domain!r}")
    available = count_bn_domains(module)
    if domain > 0 and domain >= available:
        raise ValueError(
            f"bn_domain({domain}) needs auxiliary batch norm with at least {domain + 1} domains, but the "
            f"module has {available}: backbone built without ABN. Build it with abn=True "
            "(build_backbone(..., abn=True)) to train with generated samples."
        )


@contextlib.contextmanager
def bn_domain(module: nn.Module, domain: int) -> Iterator[nn.Module]:
    """Route every ABN layer of `module` through batch norm `domain` inside the block (Sec. 4.2).

    Domain 0 normalises known samples, domain 1 generated confusing samples (Algorithm 2). On
    exit each layer gets back the domain it had before, so contexts nest. Raises ValueError when
    `domain` is not supported by every ABN layer (a backbone built with abn=False).
    """
    _check_domain(module, domain)
    layers = aux_batch_norms(module)
    previous = [layer.domain for layer in layers]
    for layer in layers:
        layer.domain = domain
    try:
        yield module
    finally:
        for layer, old_domain in zip(layers, previous):
            layer.domain = old_domain
