"""Lobes: FreeSurfer/DKT cortical labels mapped to lobes, approximate lobes from MNI coordinate planes,
and each white-matter voxel given the label of its nearest cortical seed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from scipy import ndimage

__all__ = [
    "LOBES",
    "HEMISPHERES",
    "DKT_LOBE_OF_REGION",
    "BASAL_GANGLIA_THALAMUS_LABELS",
    "VENTRICLE_LABELS",
    "CEREBRAL_WM_LABELS",
    "dkt_lobe_seeds",
    "is_cortical_label",
    "world_coordinates",
    "plane_lobes",
    "infratentorial_plane",
    "nearest_label",
]

LOBES: tuple[str, ...] = ("frontal", "parietal", "temporal", "occipital")
"""Lobe codes are 1-based positions in this tuple."""
HEMISPHERES: tuple[str, ...] = ("left", "right")

# DKT/Desikan region number (the last two digits of 1xxx/2xxx cortical labels) -> lobe code, after
# FreeSurfer's lobar grouping as used by the bullseye pipeline (insula with frontal). Cingulate regions
# (2, 10, 23, 26) are left out on purpose: the white matter under them takes the nearest other lobe.
DKT_LOBE_OF_REGION: dict[int, int] = {
    **{r: 1 for r in (3, 12, 14, 17, 18, 19, 20, 24, 27, 28, 32, 35)},
    **{r: 2 for r in (8, 22, 25, 29, 31)},
    **{r: 3 for r in (1, 6, 7, 9, 15, 16, 30, 33, 34)},
    **{r: 4 for r in (5, 11, 13, 21)},
}
BASAL_GANGLIA_THALAMUS_LABELS: tuple[int, ...] = (10, 11, 12, 13, 26, 49, 50, 51, 52, 58)
"""FreeSurfer thalamus, caudate, putamen, pallidum, accumbens (left and right)."""
VENTRICLE_LABELS: tuple[int, ...] = (4, 5, 43, 44)
"""FreeSurfer lateral and inferior lateral ventricles (left and right)."""
CEREBRAL_WM_LABELS: tuple[int, ...] = (2, 41, 77, 78, 79)
"""FreeSurfer cerebral white matter and white-matter hypointensities."""


def is_cortical_label(labels: np.ndarray) -> np.ndarray:
    """True where a FreeSurfer label is cortex: 3/42 (aseg) or 1000-1999/2000-2999 (aparc)."""
    labels = np.asarray(labels)
    return np.isin(labels, (3, 42)) | ((labels >= 1000) & (labels < 3000))


def dkt_lobe_seeds(labels: np.ndarray) -> np.ndarray:
    """Lobe seed codes from FreeSurfer/DKT labels: ``(hemisphere - 1) * 4 + lobe`` (1-8), 0 elsewhere.

    Left cortex is 1000-1999, right 2000-2999; regions not in :data:`DKT_LOBE_OF_REGION` give 0.
    """
    labels = np.asarray(labels).astype(np.int64)
    lookup = np.zeros(3000, dtype=np.int8)
    for region, lobe in DKT_LOBE_OF_REGION.items():
        lookup[1000 + region] = lobe
        lookup[2000 + region] = len(LOBES) + lobe
    inside = (labels >= 0) & (labels < 3000)
    out = np.zeros(labels.shape, dtype=np.int8)
    out[inside] = lookup[labels[inside]]
    return out


def world_coordinates(affine: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """World (RAS mm) coordinates of every voxel centre, shape (3, *shape), float32."""
    axes = [np.arange(n, dtype=np.float32) for n in shape[:3]]
    out = np.empty((3, *shape[:3]), dtype=np.float32)
    i, j, k = np.meshgrid(*axes, indexing="ij", sparse=True)
    for row in range(3):
        a = affine[row]
        out[row] = a[0] * i + a[1] * j + a[2] * k + a[3]
    return out


def plane_lobes(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Approximate lobe codes (1 frontal, 2 parietal, 3 temporal, 4 occipital) from MNI coordinates.

    Three oblique planes fitted (logistic regression on y, z) to the Mindboggle-101 DKT lobes on the
    ICBM152 2009 template: central sulcus ``y = -(z + 36.3) / 3.67``, Sylvian fissure
    ``z = -9.5 - 0.42 y`` and parieto-occipital boundary ``z = -2.1 y - 146``; they agree with the
    DKT lobe of 84 % of cortical voxels (frontal 91 %, parietal 83 %, temporal 78 %, occipital 72 %).
    An approximation for the built-in scheme only; use a parcellation for anatomy.
    """
    lobes = np.where(y > -(z + 36.26) / 3.667, 1, 2).astype(np.int8)
    lobes[z < -9.5 - 0.416 * y] = 3
    lobes[z < -2.106 * y - 146.2] = 4
    return lobes


def infratentorial_plane(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Approximate infratentorial compartment (cerebellum and brainstem) in MNI space: below the plane
    ``z = -23.9 - 0.305 y - 0.521 |x|`` (fitted to Mindboggle-101 cerebellum/brainstem labels; 96 %
    voxel agreement)."""
    return z < -23.9 - 0.305 * y - 0.521 * np.abs(x)


def nearest_label(seeds: np.ndarray, domain: np.ndarray, spacing: Iterable[float]) -> np.ndarray:
    """Give every ``domain`` voxel the value of its nearest nonzero ``seeds`` voxel (Euclidean, in mm);
    0 outside the domain, and everywhere when there are no seeds."""
    seeds = np.asarray(seeds)
    out = np.zeros(seeds.shape, dtype=seeds.dtype)
    if not seeds.any():
        return out
    indices = ndimage.distance_transform_edt(seeds == 0, sampling=tuple(spacing), return_distances=False,
                                             return_indices=True)
    domain = np.asarray(domain, dtype=bool)
    out[domain] = seeds[tuple(ix[domain] for ix in indices)]
    return out
