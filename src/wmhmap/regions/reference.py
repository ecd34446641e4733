"""The built-in reference anatomy: nilearn's ICBM152 2009 template (shipped with nilearn, so nothing is
downloaded) with its GM/WM/CSF priors and maps derived from them at run time — lateral ventricles,
deep grey matter, cortex, infratentorial compartment, approximate lobes. Derived maps are cached on
disk (an ``.npz`` under the cache folder) because building them takes a few seconds."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

from wmhmap.io.atomic import atomic_path
from wmhmap.regions.lobes import infratentorial_plane, plane_lobes, world_coordinates

__all__ = [
    "CATEGORY_BITS",
    "ReferenceAnatomy",
    "unpack",
    "reference_anatomy",
    "template_ventricles",
    "template_deep_gm",
]

log = logging.getLogger(__name__)

_VERSION = 2
CATEGORY_BITS: dict[str, int] = {"brain": 1, "ventricles": 2, "deep_gm": 4, "cortex": 8, "infratentorial": 16, "right": 32}
"""Bit of each binary map in :meth:`ReferenceAnatomy.packed` (lobe code x 64 above them)."""
_LOBE_FACTOR = 64


@dataclass(frozen=True)
class ReferenceAnatomy:
    """Template T1 and maps on its grid: tissue priors (float32, GM/WM/CSF summing to <= 1 inside the
    brain), binary maps (bool; ``right`` = right hemisphere, x >= 0) and plane-based lobe codes
    (1-4; see :func:`plane_lobes`)."""

    template: nib.Nifti1Image
    brain: np.ndarray
    gm: np.ndarray
    wm: np.ndarray
    csf: np.ndarray
    ventricles: np.ndarray
    deep_gm: np.ndarray
    cortex: np.ndarray
    infratentorial: np.ndarray
    lobes: np.ndarray
    right: np.ndarray

    @property
    def affine(self) -> np.ndarray:
        return self.template.affine

    def priors(self) -> np.ndarray:
        """Stacked tissue priors, shape (3, X, Y, Z): CSF, GM, WM."""
        return np.stack([self.csf, self.gm, self.wm])

    def packed(self) -> np.ndarray:
        """The binary maps and lobe codes packed in one int32 label image (one nearest-neighbour
        resampling brings them all to a subject); unpack with :func:`unpack`."""
        out = self.lobes.astype(np.int32) * _LOBE_FACTOR
        for name, bit in CATEGORY_BITS.items():
            out |= getattr(self, name).astype(np.int32) * bit
        return out


def unpack(packed: np.ndarray) -> dict[str, np.ndarray]:
    """Inverse of :meth:`ReferenceAnatomy.packed`: boolean maps by name plus ``lobes`` (int8)."""
    maps = {name: (packed & bit) > 0 for name, bit in CATEGORY_BITS.items()}
    maps["lobes"] = (packed // _LOBE_FACTOR).astype(np.int8)
    return maps


def template_ventricles(csf: np.ndarray, brain: np.ndarray, xyz: np.ndarray, spacing: tuple[float, ...]) -> np.ndarray:
    """Lateral ventricles of a template: CSF (prior > 0.5) more than 10 mm inside the brain and off the
    midline (|x| >= 3 mm, which drops the interhemispheric fissure and third ventricle), the connected
    components reaching the ventricular bodies (|x| < 25, |y + 10| < 20, 5 < z < 30 mm) after a
    one-voxel erosion that cuts thin bridges to the cisterns. On ICBM152 2009 this gives ~22 mL
    (Dice 0.63 with the Mindboggle-101 lateral ventricles of the FSL MNI152 template)."""
    x, y, z = xyz
    depth = ndimage.distance_transform_edt(brain, sampling=spacing)
    candidate = (csf > 0.5) & (depth > 10) & (np.abs(x) >= 3)
    core = ndimage.binary_erosion(candidate)
    components, _ = ndimage.label(core)
    seeds = core & (np.abs(x) < 25) & (np.abs(y + 10) < 20) & (z > 5) & (z < 30)
    keep = np.unique(components[seeds])
    return ndimage.binary_dilation(np.isin(components, keep[keep > 0])) & candidate


def template_deep_gm(gm: np.ndarray, brain: np.ndarray, ventricles: np.ndarray, xyz: np.ndarray,
                     spacing: tuple[float, ...]) -> np.ndarray:
    """Basal ganglia and thalamus of a template, approximately: GM prior > 0.4 within 25 mm of the
    lateral ventricles, more than 8 mm inside the brain, in the central box |x| < 32, -35 < y < 25,
    -10 < z < 25 mm (Dice 0.68 with the Mindboggle-101 basal ganglia + thalamus labels)."""
    x, y, z = xyz
    depth = ndimage.distance_transform_edt(brain, sampling=spacing)
    near_ventricles = ndimage.distance_transform_edt(~ventricles, sampling=spacing) < 25
    box = (np.abs(x) < 32) & (y > -35) & (y < 25) & (z > -10) & (z < 25)
    return (gm > 0.4) & box & (depth > 8) & near_ventricles


def _load_nilearn(resolution: int) -> tuple[nib.Nifti1Image, np.ndarray, np.ndarray, np.ndarray]:
    from nilearn import datasets

    template = datasets.load_mni152_template(resolution=resolution)
    brain = np.asarray(datasets.load_mni152_brain_mask(resolution=resolution).dataobj) > 0
    gm = np.asarray(datasets.load_mni152_gm_template(resolution=resolution).dataobj, dtype=np.float32)
    wm = np.asarray(datasets.load_mni152_wm_template(resolution=resolution).dataobj, dtype=np.float32)
    t1 = nib.Nifti1Image(np.asarray(template.dataobj, dtype=np.float32), template.affine)
    return t1, brain, gm * brain, wm * brain


def _derive(t1: nib.Nifti1Image, brain: np.ndarray, gm: np.ndarray, csf: np.ndarray) -> dict[str, np.ndarray]:
    spacing = tuple(float(s) for s in np.linalg.norm(t1.affine[:3, :3], axis=0))
    xyz = world_coordinates(t1.affine, t1.shape)
    infratentorial = infratentorial_plane(*xyz) & brain
    ventricles = template_ventricles(csf, brain, xyz, spacing)
    deep_gm = template_deep_gm(gm, brain, ventricles, xyz, spacing)
    cortex = (gm > 0.5) & ~ndimage.binary_dilation(deep_gm, iterations=2) & ~infratentorial
    lobes = np.where(brain & ~infratentorial, plane_lobes(*xyz), 0).astype(np.int8)
    return {"ventricles": ventricles, "deep_gm": deep_gm, "cortex": cortex,
            "infratentorial": infratentorial, "lobes": lobes, "right": xyz[0] >= 0}


def reference_anatomy(resolution: int = 1, cache_dir: str | Path | None = None) -> ReferenceAnatomy:
    """Build (or read from ``cache_dir``) the reference anatomy at 1 or 2 mm."""
    if resolution not in (1, 2):
        raise ValueError("the built-in reference exists at resolution 1 or 2 (mm)")
    t1, brain, gm, wm = _load_nilearn(resolution)
    csf = np.clip(brain - gm - wm, 0.0, 1.0).astype(np.float32)
    cache = None if cache_dir is None else Path(cache_dir) / f"reference_anatomy_v{_VERSION}_{resolution}mm.npz"
    derived = None
    if cache is not None and cache.is_file():
        try:
            with np.load(cache) as stored:
                derived = {name: stored[name] for name in stored.files}
        except (OSError, ValueError) as err:
            log.warning("rebuilding unreadable reference cache %s (%s)", cache, err)
    if derived is None:
        log.info("building the built-in reference anatomy (%d mm)", resolution)
        derived = _derive(t1, brain, gm, csf)
        if cache is not None:
            with atomic_path(cache) as tmp, open(tmp, "wb") as handle:
                np.savez_compressed(handle, **derived)
    return ReferenceAnatomy(t1, brain, gm, wm, csf, **{k: derived[k] for k in
                                                       ("ventricles", "deep_gm", "cortex", "infratentorial", "lobes", "right")})
