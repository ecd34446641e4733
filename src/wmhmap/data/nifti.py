"""Validated NIfTI loading: every problem becomes an :class:`InputError` or :class:`GeometryError`
that names the file, never a traceback from inside nibabel."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Mapping
from pathlib import Path

import nibabel as nib
import numpy as np

from wmhmap.errors import GeometryError, InputError

__all__ = [
    "ALLOWED_LABELS",
    "load_image",
    "load_volume",
    "load_labels",
    "load_mask",
    "check_same_grid",
    "grid_difference",
    "voxel_volume_ml",
]

ALLOWED_LABELS = frozenset({0, 1, 2})
"""Label convention: 0 background, 1 WMH, 2 other pathology (ignored in scoring)."""


def load_image(path: str | Path) -> nib.Nifti1Image:
    """Open a NIfTI file and check it is a readable 3D image (a trailing singleton 4th axis is dropped)."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file does not exist")
    if not path.is_file():
        raise InputError(path, "is not a file")
    try:
        image = nib.load(str(path))
        data = np.asanyarray(image.dataobj)
    except (OSError, EOFError, ValueError, zlib.error, gzip.BadGzipFile, nib.filebasedimages.ImageFileError) as err:
        raise InputError(path, f"unreadable or truncated NIfTI ({type(err).__name__}: {err})") from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise InputError(path, f"expected a 3D image, got {data.ndim}D with shape {tuple(data.shape)}")
    if not np.all(np.isfinite(image.affine)):
        raise InputError(path, "affine contains NaN or Inf")
    header = image.header.copy()
    header.set_data_shape(data.shape)
    return nib.Nifti1Image(np.asarray(data), image.affine, header)


def load_volume(path: str | Path) -> nib.Nifti1Image:
    """Load an intensity image (FLAIR, T1) as float32; NaN or Inf voxels are an error."""
    image = load_image(path)
    data = np.asarray(image.dataobj, dtype=np.float32)
    bad = ~np.isfinite(data)
    if bad.any():
        raise InputError(path, f"{int(bad.sum())} voxel(s) are NaN or Inf")
    return nib.Nifti1Image(data, image.affine, image.header)


def load_labels(path: str | Path, allowed: frozenset[int] = ALLOWED_LABELS) -> nib.Nifti1Image:
    """Load a label image (any integer or float storage) as uint8 after checking its values are allowed."""
    image = load_image(path)
    data = np.asarray(image.dataobj)
    if np.issubdtype(data.dtype, np.floating):
        if not np.all(np.isfinite(data)):
            raise InputError(path, "label image contains NaN or Inf")
        rounded = np.rint(data)
        if not np.allclose(data, rounded, atol=1e-3):
            raise InputError(path, "label image holds non-integer values")
        data = rounded
    values = set(np.unique(data).astype(np.int64).tolist())
    unexpected = sorted(values - set(allowed))
    if unexpected:
        raise InputError(path, f"unexpected label values {unexpected} (allowed: {sorted(allowed)})")
    header = image.header.copy()
    header.set_data_dtype(np.uint8)
    return nib.Nifti1Image(data.astype(np.uint8), image.affine, header)


def load_mask(path: str | Path, allow_empty: bool = False) -> nib.Nifti1Image:
    """Load a binary mask (any value > 0 is inside) as uint8; an empty mask is an error unless allowed."""
    image = load_image(path)
    data = np.asarray(image.dataobj)
    if np.issubdtype(data.dtype, np.floating) and not np.all(np.isfinite(data)):
        raise InputError(path, "mask contains NaN or Inf")
    mask = (data > 0).astype(np.uint8)
    if not allow_empty and not mask.any():
        raise InputError(path, "mask is empty")
    header = image.header.copy()
    header.set_data_dtype(np.uint8)
    return nib.Nifti1Image(mask, image.affine, header)


def _axcodes(affine: np.ndarray) -> str:
    """Orientation letters of an affine (e.g. 'LAS'); '?' for an axis the affine does not determine."""
    return "".join(code or "?" for code in nib.aff2axcodes(affine))


def grid_difference(a: nib.Nifti1Image, b: nib.Nifti1Image, atol: float = 1e-3) -> str | None:
    """Describe how two images' grids differ (shape, then affine beyond ``atol`` mm), or None if they match."""
    if a.shape[:3] != b.shape[:3]:
        return f"shape {tuple(a.shape[:3])} vs {tuple(b.shape[:3])}"
    delta = np.abs(a.affine - b.affine)
    if float(delta.max()) > atol:
        codes = _axcodes(a.affine), _axcodes(b.affine)
        flipped = f"; stored {codes[0]} vs {codes[1]}" if codes[0] != codes[1] else ""
        return (
            f"affines differ by up to {float(delta.max()):.4g} (tolerance {atol}){flipped}\n"
            f"{a.affine}\nvs\n{b.affine}"
        )
    return None


def check_same_grid(images: Mapping[str | Path, nib.Nifti1Image], atol: float = 1e-3) -> None:
    """Raise :class:`GeometryError` naming both files if any image is not on the first one's grid."""
    items = list(images.items())
    if not items:
        return
    ref_path, ref = items[0]
    for path, image in items[1:]:
        problem = grid_difference(ref, image, atol)
        if problem is not None:
            raise GeometryError(ref_path, path, problem)


def voxel_volume_ml(image: nib.Nifti1Image) -> float:
    """Volume of one voxel in millilitres, from the affine (robust to oblique grids)."""
    return float(abs(np.linalg.det(image.affine[:3, :3]))) / 1000.0
