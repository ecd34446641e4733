"""Cropping to the brain: the mask's bounding box plus a margin, with the affine of the cropped grid."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["bounding_box", "margin_voxels", "crop_affine"]


def margin_voxels(margin_mm: float, spacing: Sequence[float]) -> tuple[int, int, int]:
    """Whole voxels covering at least ``margin_mm`` along each axis."""
    return tuple(math.ceil(margin_mm / float(s) - 1e-6) for s in spacing)  # type: ignore[return-value]


def bounding_box(mask: np.ndarray, margin: Sequence[int]) -> tuple[slice, slice, slice]:
    """Slices of the smallest box holding every non-zero voxel of ``mask``, grown by ``margin`` voxels
    per side and clipped to the array."""
    if not mask.any():
        raise ValueError("empty mask has no bounding box")
    box = []
    for axis, pad in enumerate(margin):
        others = tuple(a for a in range(mask.ndim) if a != axis)
        hits = np.flatnonzero(mask.any(axis=others))
        box.append(slice(max(0, int(hits[0]) - pad), min(mask.shape[axis], int(hits[-1]) + 1 + pad)))
    return tuple(box)  # type: ignore[return-value]


def crop_affine(affine: np.ndarray, start: Sequence[int]) -> np.ndarray:
    """The affine of a crop whose first voxel is voxel ``start`` of the grid with ``affine``."""
    shift = np.eye(4)
    shift[:3, 3] = start
    return affine @ shift
