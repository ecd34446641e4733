"""Structure volumes from an atlas with FreeSurfer-numbered labels (e.g. Mindboggle-101: hippocampus
17/53, lateral ventricles 4/43) registered to the subject. Each propagated structure is intersected
with the subject's tissue — CSF for ventricles, GM or WM (not CSF) for the rest — so atrophy that
replaces tissue with CSF lowers the volume even though the atlas shape is only affinely fitted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from wmhmap.structures.tissue import TissueSegmentation
from wmhmap.structures.vocabulary import ASEG_LABELS, CSF_STRUCTURES

__all__ = ["atlas_structure_volumes"]


def atlas_structure_volumes(
    labels: np.ndarray,
    tissue: TissueSegmentation,
    voxel_ml: float,
    structures: Mapping[str, Sequence[int]] = ASEG_LABELS,
) -> dict[str, float]:
    """Volume (mL) of every structure whose labels occur in ``labels`` (already on the subject grid),
    within the matching tissue class; structures absent from the atlas are left out."""
    labels = np.asarray(labels).reshape(-1).astype(np.int64, copy=False)
    size = int(max(labels.max(initial=0), max((max(ids) for ids in structures.values()), default=0))) + 1
    csf = np.bincount(labels[tissue.mask("csf").reshape(-1)], minlength=size)
    parenchyma = np.bincount(labels[(tissue.mask("gm") | tissue.mask("wm")).reshape(-1)], minlength=size)
    present = np.bincount(labels, minlength=size) > 0
    volumes = {}
    for name, ids in structures.items():
        ids = list(ids)
        if not present[ids].any():
            continue
        counts = csf if name in CSF_STRUCTURES else parenchyma
        volumes[name] = float(counts[ids].sum()) * voxel_ml
    return volumes
