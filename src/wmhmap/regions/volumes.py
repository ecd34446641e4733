"""Regional volume maths: WMH and region volumes (mL) per label of a parcellation, as fractions of the
region and per intracranial volume. Pure functions on arrays; nothing here reads files."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["VOLUME_COLUMNS", "regional_volumes", "mask_volume_ml"]

VOLUME_COLUMNS: tuple[str, ...] = ("region", "label", "wmh_ml", "region_ml", "wmh_fraction_of_region", "wmh_per_icv")


def mask_volume_ml(mask: np.ndarray, voxel_ml: float) -> float:
    """Volume in mL of the nonzero voxels of ``mask`` (``voxel_ml`` = one voxel's volume in mL)."""
    return float(np.count_nonzero(mask)) * float(voxel_ml)


def regional_volumes(
    wmh: np.ndarray,
    regions: np.ndarray,
    names: Mapping[int, str],
    voxel_ml: float,
    icv_ml: float | None = None,
) -> pd.DataFrame:
    """One row per named region: WMH volume inside it, its own volume, their ratio and WMH / ICV.

    ``wmh`` is a boolean (or 0/1) lesion mask and ``regions`` an integer label image on the same grid;
    ``names`` maps label values to region names (labels absent from ``names`` are ignored, absent
    regions get 0 mL). ``wmh_fraction_of_region`` is NaN for an empty region and ``wmh_per_icv``
    NaN when ``icv_ml`` is missing or not positive. Volumes use ``voxel_ml`` (from the affine, so
    anisotropic voxels are exact).
    """
    wmh = np.asarray(wmh)
    regions = np.asarray(regions)
    if wmh.shape != regions.shape:
        raise ValueError(f"WMH mask shape {wmh.shape} differs from region image shape {regions.shape}")
    labels = np.array(sorted(int(k) for k in names), dtype=np.int64)
    flat = regions.reshape(-1).astype(np.int64, copy=False)
    if labels.size and (labels.min() < 0 or flat.min(initial=0) < 0):
        raise ValueError("region labels must be non-negative integers")
    size = int(max(flat.max(initial=0), labels.max(initial=0))) + 1
    region_voxels = np.bincount(flat, minlength=size)
    wmh_voxels = np.bincount(flat[wmh.reshape(-1) > 0], minlength=size)
    region_ml = region_voxels[labels] * float(voxel_ml)
    wmh_ml = wmh_voxels[labels] * float(voxel_ml)
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(region_ml > 0, wmh_ml / np.where(region_ml > 0, region_ml, 1.0), np.nan)
    per_icv = wmh_ml / icv_ml if icv_ml is not None and np.isfinite(icv_ml) and icv_ml > 0 else np.full(len(labels), np.nan)
    return pd.DataFrame(
        {
            "region": [names[int(k)] for k in labels],
            "label": labels,
            "wmh_ml": wmh_ml,
            "region_ml": region_ml,
            "wmh_fraction_of_region": fraction,
            "wmh_per_icv": per_icv,
        },
        columns=list(VOLUME_COLUMNS),
    )
