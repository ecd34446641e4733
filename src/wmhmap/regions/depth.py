"""White-matter depth: distance maps to the ventricles and the cortex, the clinical periventricular /
deep / juxtacortical bands, and the normalised depth shells of the bullseye parcellation."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy import ndimage

__all__ = [
    "DEPTH_BANDS",
    "distance_mm",
    "depth_bands",
    "normalised_depth",
    "depth_shells",
]

DEPTH_BANDS: dict[int, str] = {1: "periventricular", 2: "deep", 3: "juxtacortical"}


def distance_mm(mask: np.ndarray, spacing: Iterable[float]) -> np.ndarray:
    """Euclidean distance (mm, float32) from every voxel to the nearest voxel of ``mask`` (0 inside it);
    +inf everywhere when the mask is empty."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return np.full(mask.shape, np.inf, dtype=np.float32)
    return ndimage.distance_transform_edt(~mask, sampling=tuple(spacing)).astype(np.float32)


def depth_bands(
    domain: np.ndarray,
    distance_to_ventricles: np.ndarray,
    distance_to_cortex: np.ndarray,
    periventricular_mm: float = 10.0,
    juxtacortical_mm: float = 4.0,
) -> np.ndarray:
    """Band codes over ``domain`` (see :data:`DEPTH_BANDS`): periventricular within
    ``periventricular_mm`` of the ventricles (clinical convention: 10 mm), else juxtacortical within
    ``juxtacortical_mm`` of the cortex, else deep; 0 outside the domain. Periventricular wins where
    both apply."""
    domain = np.asarray(domain, dtype=bool)
    bands = np.zeros(domain.shape, dtype=np.int8)
    bands[domain] = 2
    bands[domain & (distance_to_cortex <= juxtacortical_mm)] = 3
    bands[domain & (distance_to_ventricles <= periventricular_mm)] = 1
    return bands


def normalised_depth(distance_to_ventricles: np.ndarray, distance_to_cortex: np.ndarray) -> np.ndarray:
    """``d_vent / (d_vent + d_cortex)``: 0 at the ventricles, 1 at the cortex (Sudre et al. 2018, the
    bullseye parcellation); NaN where both distances are 0."""
    total = distance_to_ventricles + distance_to_cortex
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, distance_to_ventricles / np.where(total > 0, total, 1), np.nan).astype(np.float32)


def depth_shells(depth: np.ndarray, domain: np.ndarray, n_shells: int = 4) -> np.ndarray:
    """Shell index 1..``n_shells`` from normalised depth cut at equal steps (0.25 for four shells):
    shell 1 lies next to the ventricles; 0 outside ``domain`` or where the depth is undefined."""
    if n_shells < 1:
        raise ValueError("n_shells must be at least 1")
    domain = np.asarray(domain, dtype=bool) & np.isfinite(depth)
    shells = np.zeros(depth.shape, dtype=np.int8)
    index = np.floor(np.clip(depth[domain], 0.0, 1.0) * n_shells).astype(np.int8) + 1
    shells[domain] = np.minimum(index, n_shells)
    return shells
