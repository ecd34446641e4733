"""Resampling between voxel grids defined by affines: to a target spacing (forward) and onto any grid (inverse)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from wmhmap.preprocessing.orientation import voxel_spacing

__all__ = ["SPACING_TOLERANCE_MM", "resampled_grid", "resample_to_spacing", "resample_onto"]

SPACING_TOLERANCE_MM = 1e-3
"""An axis whose spacing is this close to the target is left untouched (exact, no interpolation)."""


def resampled_grid(
    shape: Sequence[int], affine: np.ndarray, spacing: Sequence[float]
) -> tuple[tuple[int, int, int], np.ndarray, np.ndarray]:
    """The grid covering the same field of view at ``spacing`` mm, centred on the old one.

    Returns its shape, its affine and the (4, 4) map from its voxels to the old voxels. Axes already at
    ``spacing`` (within :data:`SPACING_TOLERANCE_MM`) keep their voxels exactly. Directions are kept,
    so oblique grids stay oblique and world coordinates are preserved.
    """
    old_shape = np.asarray(shape[-3:], dtype=float)
    current = voxel_spacing(affine)
    target = np.asarray(spacing, dtype=float)
    keep = np.abs(current - target) <= SPACING_TOLERANCE_MM
    scale = np.where(keep, 1.0, target / current)
    new_shape = np.where(keep, old_shape, np.maximum(1, np.round(old_shape / scale)))
    offset = (old_shape - 1) / 2 - scale * (new_shape - 1) / 2
    voxel_map = np.eye(4)
    voxel_map[:3, :3] = np.diag(scale)
    voxel_map[:3, 3] = np.where(keep, 0.0, offset)
    return tuple(int(n) for n in new_shape), affine @ voxel_map, voxel_map  # type: ignore[return-value]


def _transform(array: np.ndarray, matrix: np.ndarray, shape: Sequence[int], order: int, mode: str) -> np.ndarray:
    """Apply a voxel map (output voxel -> input voxel) to the last three axes of ``array``."""
    lead = array.shape[:-3]
    flat = array.reshape((-1, *array.shape[-3:]))
    out = np.empty((flat.shape[0], *shape), dtype=array.dtype)
    for i, volume in enumerate(flat):
        out[i] = ndimage.affine_transform(
            volume, matrix[:3, :3], offset=matrix[:3, 3], output_shape=tuple(shape), order=order, mode=mode, cval=0
        )
    return out.reshape((*lead, *shape))


def resample_to_spacing(
    array: np.ndarray, affine: np.ndarray, spacing: Sequence[float], order: int
) -> tuple[np.ndarray, np.ndarray]:
    """Resample the last three axes of ``array`` to ``spacing`` mm (order 1 for images, 0 for labels and masks).

    Returns the input itself when every axis already has the spacing.
    """
    shape, new_affine, voxel_map = resampled_grid(array.shape[-3:], affine, spacing)
    if np.array_equal(voxel_map, np.eye(4)):
        return array, affine
    # "nearest" extends edge voxels over the at most half-voxel rim a centred grid may add.
    return _transform(array, voxel_map, shape, order, mode="nearest"), new_affine


def _signed_permutation(matrix: np.ndarray, atol: float = 1e-4) -> tuple[np.ndarray, np.ndarray] | None:
    """If ``matrix`` maps integer voxels to integer voxels by axis swaps, flips and shifts: (axes, signs)."""
    linear, shift = matrix[:3, :3], matrix[:3, 3]
    rounded = np.rint(linear)
    if not (np.allclose(linear, rounded, atol=atol) and np.allclose(shift, np.rint(shift), atol=atol)):
        return None
    if not (np.abs(rounded).sum(axis=0) == 1).all() or not (np.abs(rounded).sum(axis=1) == 1).all():
        return None
    source_axis = np.abs(rounded).argmax(axis=0)  # for each output axis j, the input axis it reads
    return source_axis, rounded[source_axis, np.arange(3)]


def resample_onto(
    array: np.ndarray,
    source_affine: np.ndarray,
    target_shape: Sequence[int],
    target_affine: np.ndarray,
    order: int,
) -> np.ndarray:
    """Put the last three axes of ``array`` (on ``source_affine``) onto another grid; outside the source = 0.

    When the grids differ only by axis swaps, flips and whole-voxel shifts, voxels are copied exactly;
    otherwise they are interpolated (order 0 nearest, 1 linear) in world coordinates.
    """
    target_shape = tuple(int(n) for n in target_shape)
    voxel_map = np.linalg.inv(source_affine) @ target_affine  # target voxel -> source voxel
    exact = _signed_permutation(voxel_map)
    if exact is None:
        return _transform(array, voxel_map, target_shape, order, mode="constant")
    source_axis, signs = exact
    lead = array.ndim - 3
    source = np.transpose(array, (*range(lead), *(lead + a for a in source_axis)))
    shift = np.rint(voxel_map[:3, 3])[source_axis].astype(int)
    out = np.zeros((*array.shape[:lead], *target_shape), dtype=array.dtype)
    src, dst = [], []
    for j, sign in enumerate(signs):
        n = source.shape[lead + j]
        if sign < 0:  # source index = shift - target index: flip the source, then it is a plain shift
            source = np.flip(source, axis=lead + j)
            shift[j] = n - 1 - shift[j]
        lo, hi = max(0, -shift[j]), min(target_shape[j], n - shift[j])
        if hi <= lo:
            return out
        dst.append(slice(lo, hi))
        src.append(slice(lo + shift[j], hi + shift[j]))
    out[(..., *dst)] = source[(..., *src)]
    return out
