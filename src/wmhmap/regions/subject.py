"""One subject's anatomy on its own grid: registration to the built-in reference, brain mask, tissue
segmentation, lateral ventricles, cortex, deep grey matter, infratentorial compartment and approximate
lobes; the maps every region scheme and the built-in structure volumes are computed from."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property

import nibabel as nib
import numpy as np
from scipy import ndimage

from wmhmap.data.nifti import voxel_volume_ml
from wmhmap.data.subject import SubjectImages
from wmhmap.regions.depth import distance_mm
from wmhmap.regions.reference import ReferenceAnatomy, unpack
from wmhmap.regions.registration import (
    PreparedTemplate,
    RegistrationResult,
    RegistrationSettings,
    TransformCache,
    propagate,
    register,
)
from wmhmap.structures.tissue import TissueSegmentation, segment_tissues

__all__ = ["SubjectAnatomy", "foreground_mask", "infer_brain", "subject_ventricles", "build_subject_anatomy"]

log = logging.getLogger(__name__)


@dataclass
class SubjectAnatomy:
    """Maps on the subject grid (``grid``, the FLAIR grid). ``image`` is the registration/tissue image
    (T1 when present, else FLAIR); ``wm_domain`` = white matter plus WMH inside the brain; ``lobes``
    and ``right`` (hemisphere) are the reference's approximate lobes brought to the subject."""

    subject_id: str
    session: str
    grid: nib.Nifti1Image
    image: nib.Nifti1Image
    modality: str
    wmh: np.ndarray
    brain: np.ndarray
    brain_mask_given: bool
    registration: RegistrationResult
    tissue: TissueSegmentation | None
    ventricles: np.ndarray
    deep_gm: np.ndarray
    cortex: np.ndarray
    infratentorial: np.ndarray
    lobes: np.ndarray
    right: np.ndarray

    @property
    def voxel_ml(self) -> float:
        return voxel_volume_ml(self.grid)

    @property
    def spacing(self) -> tuple[float, float, float]:
        return tuple(float(s) for s in np.linalg.norm(self.grid.affine[:3, :3], axis=0))

    @property
    def wm_domain(self) -> np.ndarray:
        wm = self.tissue.mask("wm") if self.tissue is not None else np.zeros(self.wmh.shape, bool)
        return (wm | self.wmh) & self.brain

    @cached_property
    def distance_to_ventricles(self) -> np.ndarray:
        return distance_mm(self.ventricles, self.spacing)

    @cached_property
    def distance_to_cortex(self) -> np.ndarray:
        return distance_mm(self.cortex, self.spacing)


def foreground_mask(image: np.ndarray) -> np.ndarray:
    """Voxels above 2 % of the 99th intensity percentile, holes filled: the brain of a skull-stripped
    image, the head otherwise."""
    image = np.asarray(image, dtype=np.float32)
    positive = image[image > 0]
    if positive.size == 0:
        return np.zeros(image.shape, dtype=bool)
    return ndimage.binary_fill_holes(image > 0.02 * float(np.percentile(positive, 99)))


def infer_brain(foreground: np.ndarray, template_brain: np.ndarray, stripped_ratio: float = 1.25) -> np.ndarray:
    """The brain when no mask is given: the image foreground itself when the image looks skull-stripped
    (foreground at most ``stripped_ratio`` times the propagated template brain), else the propagated
    template brain within the foreground (a whole-head image)."""
    if foreground.sum() <= stripped_ratio * max(int(template_brain.sum()), 1):
        return foreground
    return foreground & template_brain


def subject_ventricles(csf: np.ndarray, prior: np.ndarray, spacing: tuple[float, ...], reach_mm: float = 10.0) -> np.ndarray:
    """Lateral ventricles of a subject: CSF voxels within ``reach_mm`` of the propagated template
    ventricles, in connected components that touch them, so enlarged ventricles are followed while
    sulcal CSF is not."""
    if not prior.any():
        return np.zeros(csf.shape, dtype=bool)
    candidate = csf & (distance_mm(prior, spacing) <= reach_mm)
    components, _ = ndimage.label(candidate)
    keep = np.unique(components[prior & candidate])
    return np.isin(components, keep[keep > 0])


def build_subject_anatomy(
    images: SubjectImages,
    wmh: np.ndarray,
    reference: ReferenceAnatomy,
    reference_template: PreparedTemplate,
    settings: RegistrationSettings,
    cache: TransformCache | None = None,
    tissue_iterations: int = 20,
) -> SubjectAnatomy:
    """Register the subject to the reference, then segment and derive its anatomy.

    The brain is the manifest's brain mask when given, else :func:`infer_brain`. When the reference registration fails QC the anatomy is still returned
    (flagged through ``registration.ok``) so the caller can report it; tissue is then None.
    """
    modality = "t1" if images.t1 is not None else "flair"
    image = images.modality(modality)
    data = np.asarray(image.dataobj, dtype=np.float32)
    wmh = np.asarray(wmh, dtype=bool)
    given = images.brain_mask is not None
    foreground = foreground_mask(data)
    fit_mask = np.asarray(images.brain_mask.dataobj) > 0 if given else foreground
    result = register(image, reference_template, settings, fit_mask, cache)
    maps = unpack(propagate(result, reference.template, images.flair, True, reference.packed()))
    brain = (fit_mask if given else infer_brain(foreground, maps["brain"])) | wmh
    spacing = tuple(float(s) for s in np.linalg.norm(images.flair.affine[:3, :3], axis=0))
    tissue = None
    ventricles = np.zeros(wmh.shape, dtype=bool)
    cortex = np.zeros(wmh.shape, dtype=bool)
    if result.ok:
        priors = np.stack([propagate(result, reference.template, images.flair, False, p) for p in reference.priors()])
        tissue = segment_tissues(data, brain, priors, exclude=wmh, iterations=tissue_iterations)
        ventricles = subject_ventricles(tissue.mask("csf"), maps["ventricles"], spacing) & ~maps["infratentorial"]
        deep = ndimage.binary_dilation(maps["deep_gm"], iterations=2)
        cortex = tissue.mask("gm") & ~deep & ~maps["infratentorial"]
    else:
        log.warning("%s/%s: reference registration failed QC (%s)", images.subject_id, images.session, result.reason)
    return SubjectAnatomy(
        subject_id=images.subject_id,
        session=images.session,
        grid=images.flair,
        image=image,
        modality=modality,
        wmh=wmh,
        brain=brain,
        brain_mask_given=given,
        registration=result,
        tissue=tissue,
        ventricles=ventricles,
        deep_gm=maps["deep_gm"] & brain,
        cortex=cortex,
        infratentorial=maps["infratentorial"] & brain,
        lobes=np.where(brain, maps["lobes"], 0).astype(np.int8),
        right=maps["right"],
    )
