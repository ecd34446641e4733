"""The built-in scheme, needing nothing outside the package: hemisphere x approximate lobe x depth band
(periventricular / deep / juxtacortical) on nilearn's ICBM152 2009 template, plus one infratentorial
region. Built procedurally from :class:`ReferenceAnatomy` (lobes from MNI coordinate planes, depth
from distances to the template's ventricles and cortex): an approximation, documented as such."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd

from wmhmap.regions.atlas import Atlas
from wmhmap.regions.depth import DEPTH_BANDS, depth_bands, distance_mm
from wmhmap.regions.lobes import HEMISPHERES, LOBES
from wmhmap.regions.reference import ReferenceAnatomy

__all__ = ["INFRATENTORIAL", "builtin_table", "builtin_atlas"]

INFRATENTORIAL = "infratentorial"


def _label(hemisphere: int, lobe: int, band: int) -> int:
    return (hemisphere * len(LOBES) + lobe - 1) * len(DEPTH_BANDS) + band


def builtin_table() -> pd.DataFrame:
    """Index, name (e.g. ``frontal_periventricular_left``) and the hemisphere/lobe/depth tags."""
    rows = [
        {"index": _label(h, lobe, band), "name": f"{LOBES[lobe - 1]}_{DEPTH_BANDS[band]}_{hemisphere}",
         "hemisphere": hemisphere, "lobe": LOBES[lobe - 1], "depth": DEPTH_BANDS[band]}
        for h, hemisphere in enumerate(HEMISPHERES)
        for lobe in range(1, len(LOBES) + 1)
        for band in DEPTH_BANDS
    ]
    infra = _label(len(HEMISPHERES) - 1, len(LOBES), max(DEPTH_BANDS)) + 1
    rows.append({"index": infra, "name": INFRATENTORIAL, "hemisphere": "bilateral", "lobe": INFRATENTORIAL,
                 "depth": INFRATENTORIAL})
    return pd.DataFrame(rows)


def builtin_atlas(reference: ReferenceAnatomy, periventricular_mm: float = 10.0, juxtacortical_mm: float = 4.0,
                  name: str = "builtin") -> Atlas:
    """The built-in atlas on the reference template: every brain voxel gets a region, the template's
    ventricles included (periventricular), so a subject's periventricular lesions are labelled whatever
    its ventricle size; the restriction to white matter happens on the subject."""
    spacing = tuple(float(s) for s in np.linalg.norm(reference.affine[:3, :3], axis=0))
    cerebrum = reference.brain & ~reference.infratentorial & (reference.lobes > 0)
    bands = depth_bands(cerebrum, distance_mm(reference.ventricles, spacing), distance_mm(reference.cortex, spacing),
                        periventricular_mm, juxtacortical_mm)
    table = builtin_table()
    labels = np.zeros(reference.brain.shape, dtype=np.int32)
    hemisphere = reference.right.astype(np.int32)
    labels[cerebrum] = ((hemisphere[cerebrum] * len(LOBES) + reference.lobes[cerebrum] - 1) * len(DEPTH_BANDS)
                        + bands[cerebrum])
    labels[reference.brain & reference.infratentorial] = int(table["index"].iloc[-1])
    return Atlas(name, nib.Nifti1Image(labels, reference.affine), table, reference.template)
