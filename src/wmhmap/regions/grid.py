"""Moving images between nibabel (RAS affine) and SimpleITK (LPS origin/spacing/direction), and
resampling template-space images onto a subject's grid through a transform."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import SimpleITK as sitk

__all__ = ["to_sitk", "empty_sitk", "resample_to_grid", "same_grid"]

_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0])


def _set_geometry(out: sitk.Image, affine: np.ndarray) -> sitk.Image:
    linear = _RAS_TO_LPS @ affine[:3, :3]
    spacing = np.linalg.norm(linear, axis=0)
    out.SetSpacing(spacing.tolist())
    out.SetDirection((linear / spacing).flatten().tolist())
    out.SetOrigin((_RAS_TO_LPS @ affine[:3, 3]).tolist())
    return out


def to_sitk(image: nib.Nifti1Image, data: np.ndarray | None = None, dtype: type = np.float32) -> sitk.Image:
    """A SimpleITK image with ``image``'s geometry holding ``data`` (default: the image's own voxels)."""
    array = np.asarray(image.dataobj if data is None else data).astype(dtype, copy=False)
    return _set_geometry(sitk.GetImageFromArray(np.ascontiguousarray(array.transpose(2, 1, 0))), image.affine)


def empty_sitk(image: nib.Nifti1Image) -> sitk.Image:
    """A blank uint8 SimpleITK image on ``image``'s grid (the reference grid of a resampling)."""
    return _set_geometry(sitk.Image(*[int(n) for n in image.shape[:3]], sitk.sitkUInt8), image.affine)


def same_grid(a: nib.Nifti1Image, b: nib.Nifti1Image, atol: float = 1e-4) -> bool:
    """True when two images share shape and affine (to ``atol`` mm)."""
    return a.shape[:3] == b.shape[:3] and bool(np.allclose(a.affine, b.affine, atol=atol))


def resample_to_grid(
    moving: nib.Nifti1Image,
    grid: nib.Nifti1Image,
    transform: sitk.Transform,
    nearest: bool,
    data: np.ndarray | None = None,
) -> np.ndarray:
    """``moving`` (or ``data`` on its grid) sampled at the points of ``grid`` mapped through ``transform``.

    ``transform`` maps ``grid``'s physical points into ``moving``'s space (the ITK convention).
    Nearest neighbour keeps label values (int32 out); otherwise linear interpolation (float32 out).
    Points falling outside ``moving`` get 0.
    """
    dtype = np.int32 if nearest else np.float32
    source = to_sitk(moving, data, dtype)
    interpolator = sitk.sitkNearestNeighbor if nearest else sitk.sitkLinear
    out = sitk.Resample(source, empty_sitk(grid), transform, interpolator, 0, source.GetPixelID())
    return sitk.GetArrayFromImage(out).transpose(2, 1, 0).astype(dtype, copy=False)
