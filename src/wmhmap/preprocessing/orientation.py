"""Exact reorientation (axis permutations and flips, no interpolation) to canonical axis codes."""

from __future__ import annotations

import numpy as np
from nibabel.orientations import apply_orientation, axcodes2ornt, inv_ornt_aff, io_orientation, ornt_transform

__all__ = ["orientation_transform", "reorient", "voxel_spacing", "oriented_spacing"]


def orientation_transform(affine: np.ndarray, codes: str = "RAS") -> np.ndarray:
    """The nibabel ``ornt`` transform taking an image with ``affine`` to the closest axes ``codes``."""
    return ornt_transform(io_orientation(affine), axcodes2ornt(tuple(codes)))


def reorient(array: np.ndarray, affine: np.ndarray, transform: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``transform`` to the last three (spatial) axes of ``array``; return it (a view) and its new affine.

    World coordinates are preserved exactly: only voxel order changes, oblique affines stay oblique.
    """
    spatial = array.shape[-3:]
    moved = np.moveaxis(array, range(array.ndim - 3), range(3, array.ndim))
    out = np.moveaxis(apply_orientation(moved, transform), range(3, array.ndim), range(array.ndim - 3))
    return out, affine @ inv_ornt_aff(transform, spatial)


def voxel_spacing(affine: np.ndarray) -> np.ndarray:
    """Voxel size (mm) along each array axis: the lengths of the affine's columns (oblique-safe)."""
    return np.sqrt((np.asarray(affine, dtype=float)[:3, :3] ** 2).sum(axis=0))


def oriented_spacing(affine: np.ndarray, codes: str = "RAS") -> np.ndarray:
    """Voxel size (mm) along each axis the image will have once reoriented to ``codes``."""
    transform = orientation_transform(affine, codes)
    spacing = voxel_spacing(affine)
    out = np.empty(3)
    out[transform[:, 0].astype(int)] = spacing
    return out
