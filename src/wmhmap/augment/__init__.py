"""Data augmentation: TorchIO transforms composed from config (conf/augmentation/)."""

from __future__ import annotations

from collections.abc import Sequence

import torchio as tio

__all__ = ["compose"]


def compose(transforms: Sequence[tio.Transform] | None) -> tio.Compose | None:
    """Compose instantiated TorchIO transforms in order; None when the preset has none."""
    transforms = list(transforms or [])
    return tio.Compose(transforms) if transforms else None
