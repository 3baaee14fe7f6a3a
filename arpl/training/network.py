"""The classifier C of Fig. 5: a backbone that embeds images and a head that holds the loss's parameters."""

from __future__ import annotations

import torch
from torch import nn

from arpl.methods import build_head, head_options
from arpl.models import build_backbone
from arpl.models.abn import bn_domain
from arpl.training.specs import HEAD_SETTINGS, ModelSpec

KNOWN_DOMAIN, FAKE_DOMAIN = 0, 1


class OpenSetNet(nn.Module):
    """Backbone + head. One ``forward`` computes everything a training step needs, so that it also runs
    unchanged inside DistributedDataParallel (one forward per backward)."""

    def __init__(self, backbone: nn.Module, head: nn.Module, abn: bool):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.abn = abn

    def features(self, x: torch.Tensor, fake: bool = False) -> torch.Tensor:
        """Embed ``x``; generated samples go through the auxiliary BN when the backbone has one."""
        if fake and self.abn:
            with bn_domain(self.backbone, FAKE_DOMAIN):
                return self.backbone(x)
        return self.backbone(x)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None, fake: torch.Tensor | None = None,
                beta: float = 0.0, entropy_form: str = "code"):
        """Without labels: ``(features, logits)``. With labels: ``(logits, loss)`` where the loss is the
        head's loss (Eq. 14 for ARPL) plus, given generated samples ``fake``, ``beta`` times the entropy
        term of Eq. 19."""
        features = self.features(x)
        if labels is None:
            return features, self.head.logits(features)
        logits, loss = self.head(features, labels)
        if fake is not None:
            loss = loss + beta * self.head.entropy_term(self.features(fake, fake=True), entropy_form)
        return logits, loss


def build_model(spec: ModelSpec) -> OpenSetNet:
    """Build backbone and head from a :class:`ModelSpec`. A ``distance`` other than None goes to the head,
    which refuses it if it has no choice of distance."""
    backbone = build_backbone(spec.backbone, in_channels=spec.in_channels, image_size=spec.image_size,
                              abn=spec.abn, feat_dim=spec.feat_dim, width=spec.width)
    accepted = head_options(spec.method)
    options: dict = {name: getattr(spec, name) for name in HEAD_SETTINGS if name in accepted and name != "distance"}
    if spec.distance is not None:
        options["distance"] = spec.distance
    head = build_head(spec.method, backbone.feat_dim, spec.num_classes, **options)
    return OpenSetNet(backbone, head, abn=spec.abn)
