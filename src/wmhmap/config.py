"""OmegaConf resolvers used in conf/ (registered once, on import of any entry point)."""

from __future__ import annotations

from omegaconf import OmegaConf

from wmhmap.models.losses import num_classes

__all__ = ["register_resolvers"]


def register_resolvers() -> None:
    """Register ``${num_classes:<label2 mode>}`` (network output channels for the loss's label-2 mode)."""
    if not OmegaConf.has_resolver("num_classes"):
        OmegaConf.register_new_resolver("num_classes", num_classes)


register_resolvers()
