"""The bullseye parcellation of the cerebral white matter (Sudre et al. 2018): lobes (the lobe of the
nearest cortical label, per hemisphere, plus an optional basal ganglia/thalamus region) crossed with
depth shells from the normalised distance between the ventricles and the cortex."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from wmhmap.regions.depth import depth_shells, normalised_depth
from wmhmap.regions.lobes import HEMISPHERES, LOBES, nearest_label

__all__ = ["BASAL_GANGLIA_REGION", "bullseye_names", "bullseye_parcellation"]

BASAL_GANGLIA_REGION = "basal_ganglia_thalamus"
_BGIT = 2 * len(LOBES) + 1


def bullseye_names(n_shells: int = 4, basal_ganglia: bool = True) -> dict[int, str]:
    """Label -> name, e.g. ``frontal_shell1_left``; label = (region - 1) * n_shells + shell, regions
    1-8 = lobe x hemisphere (left first), 9 = basal ganglia/thalamus (bilateral)."""
    names = {}
    for hemi_index, hemisphere in enumerate(HEMISPHERES):
        for lobe_index, lobe in enumerate(LOBES):
            region = hemi_index * len(LOBES) + lobe_index + 1
            for shell in range(1, n_shells + 1):
                names[(region - 1) * n_shells + shell] = f"{lobe}_shell{shell}_{hemisphere}"
    if basal_ganglia:
        for shell in range(1, n_shells + 1):
            names[(_BGIT - 1) * n_shells + shell] = f"{BASAL_GANGLIA_REGION}_shell{shell}"
    return names


def bullseye_parcellation(
    domain: np.ndarray,
    lobe_seeds: np.ndarray,
    distance_to_ventricles: np.ndarray,
    distance_to_cortex: np.ndarray,
    spacing: Iterable[float],
    n_shells: int = 4,
    basal_ganglia: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[int, str]]:
    """Bullseye labels over ``domain`` (cerebral white matter) and their names.

    ``lobe_seeds`` holds lobe x hemisphere codes 1-8 (``(hemisphere - 1) * 4 + lobe``) on cortex, 0
    elsewhere; each domain voxel takes the code of its nearest seed. ``basal_ganglia`` voxels (when
    given) form their own region and join the domain. Shell 1 lies next to the ventricles.
    """
    domain = np.asarray(domain, dtype=bool)
    regions = nearest_label(np.asarray(lobe_seeds, dtype=np.int8), domain, spacing).astype(np.int32)
    if basal_ganglia is not None:
        basal_ganglia = np.asarray(basal_ganglia, dtype=bool)
        regions[basal_ganglia] = _BGIT
        domain = domain | basal_ganglia
    shells = depth_shells(normalised_depth(distance_to_ventricles, distance_to_cortex), domain, n_shells)
    labels = np.where((regions > 0) & (shells > 0), (regions - 1) * n_shells + shells, 0).astype(np.int32)
    return labels, bullseye_names(n_shells, basal_ganglia is not None)
