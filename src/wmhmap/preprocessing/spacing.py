"""The cohort's median voxel spacing, read from NIfTI headers only (no voxel data)."""

from __future__ import annotations

import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from nibabel.filebasedimages import ImageFileError
from nibabel.spatialimages import HeaderDataError
from tqdm.auto import tqdm

from wmhmap.errors import InputError
from wmhmap.preprocessing.orientation import oriented_spacing

__all__ = ["header_affine", "median_spacing"]


def header_affine(path: str | Path) -> np.ndarray:
    """The affine of a NIfTI file from its header alone, with an :class:`InputError` naming a bad file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file does not exist")
    try:
        affine = np.asarray(nib.load(str(path)).affine, dtype=float)
    except (OSError, EOFError, ValueError, zlib.error, ImageFileError, HeaderDataError) as err:
        raise InputError(path, f"unreadable NIfTI header ({type(err).__name__}: {err})") from None
    if not np.all(np.isfinite(affine)):
        raise InputError(path, "affine contains NaN or Inf")
    return affine


def median_spacing(
    manifest: pd.DataFrame, orientation: str = "RAS", column: str = "flair", progress: bool = False
) -> tuple[float, float, float]:
    """Per-axis median voxel size (mm, in the axis order of ``orientation``) of ``manifest[column]`` images.

    The default resampling target of nnU-Net and Yucca; rounded to 1e-4 mm so it reads well in configs.
    """
    paths = manifest[column].dropna().tolist()
    if not paths:
        raise ValueError(f"no {column} images in the manifest to take the median spacing of")
    spacings = [oriented_spacing(header_affine(p), orientation) for p in tqdm(paths, desc="spacing", disable=not progress)]
    median = np.median(np.stack(spacings), axis=0)
    return tuple(round(float(s), 4) for s in median)  # type: ignore[return-value]
