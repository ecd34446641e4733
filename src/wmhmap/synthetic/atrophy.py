"""Brain atrophy that grows with age and diagnosis (CN < MCI < AD): ventricles widen (tissue is pushed
away from them) and cortical grey matter thins into sulcal CSF."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from wmhmap.synthetic.template import Template

__all__ = ["AtrophyModel", "atrophy_factors", "pull_from_ventricles", "thinned_grey_matter"]


@dataclass(frozen=True)
class AtrophyModel:
    """Ventricle dilation (mm of surface shift) and grey-matter loss (fraction) as linear functions of age
    above ``reference_age`` plus a diagnosis offset and a subject-level normal deviation (in sds)."""

    reference_age: float = 60.0
    ventricle_mm_per_year: float = 0.1
    ventricle_mm: Mapping[str, float] = field(default_factory=lambda: {"CN": 0.0, "MCI": 0.9, "AD": 1.8})
    ventricle_sd_mm: float = 0.9
    ventricle_decay_mm: float = 10.0
    gm_loss_per_year: float = 0.005
    gm_loss: Mapping[str, float] = field(default_factory=lambda: {"CN": 0.0, "MCI": 0.04, "AD": 0.08})
    gm_loss_sd: float = 0.02
    max_gm_loss: float = 0.4


def atrophy_factors(
    age: float, diagnosis: str, z_ventricle: float, z_gm: float, model: AtrophyModel
) -> tuple[float, float]:
    """(ventricle dilation in mm, grey-matter loss fraction) for one visit; both never negative."""
    years = max(age - model.reference_age, 0.0)
    dilation = (
        years * model.ventricle_mm_per_year
        + model.ventricle_mm[diagnosis]
        + z_ventricle * model.ventricle_sd_mm
    )
    loss = years * model.gm_loss_per_year + model.gm_loss[diagnosis] + z_gm * model.gm_loss_sd
    return max(float(dilation), 0.0), float(np.clip(loss, 0.0, model.max_gm_loss))


def pull_from_ventricles(
    template: Template, voxels: np.ndarray, dilation_mm: float, decay_mm: float
) -> tuple[np.ndarray, np.ndarray]:
    """Template voxel coordinates (3, N) moved toward the ventricles so that sampling there widens them:
    a point at distance r from the surface samples the point at r - dilation * exp(-r / decay).
    Also returns which points now lie deep inside the widened ventricles (more than one template voxel):
    they are pure ventricular CSF, never sampled across the ventricle into the opposite wall."""
    if dilation_mm <= 0:
        return voxels, np.zeros(voxels.shape[1], dtype=bool)
    distance = ndi.map_coordinates(template.ventricle_distance_mm, voxels, order=1, mode="nearest")
    shift = dilation_mm * np.exp(-np.maximum(distance, 0.0) / decay_mm)
    normal = np.stack(
        [ndi.map_coordinates(n, voxels, order=1, mode="nearest") for n in template.ventricle_normal]
    )
    pulled = (voxels - (shift / template.voxel_mm) * normal).astype(np.float32)
    return pulled, (distance - shift) < -template.voxel_mm


def thinned_grey_matter(template: Template, gm_loss: float) -> tuple[np.ndarray, np.ndarray]:
    """(grey matter, CSF) maps after losing ``gm_loss`` of the grey matter next to sulcal CSF to CSF."""
    lost = template.gm * (gm_loss * template.surface_weight)
    return template.gm - lost, template.csf + lost
