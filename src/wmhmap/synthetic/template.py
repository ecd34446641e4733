"""The anatomical template every synthetic subject is deformed from: ICBM152 2009 tissue maps shipped with nilearn.

Read once per process (no download); CSF, lateral ventricles, their distance field and the
generator's white-matter regions are derived from the tissue maps.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage as ndi

__all__ = [
    "REGION_NAMES",
    "VENTRICLE_SEEDS_MM",
    "Template",
    "icbm152_files",
    "load_template",
    "template_resolution_for",
]

REGION_NAMES: dict[int, str] = {1: "periventricular_anterior", 2: "periventricular_posterior", 3: "deep"}
"""Generator regions (label -> name); every brain voxel belongs to one of them."""

VENTRICLE_SEEDS_MM: tuple[tuple[float, float, float], ...] = ((-15.0, -14.0, 18.0), (15.0, -14.0, 18.0))
"""Points in the bodies of the left and right lateral ventricles (MNI mm); their CSF components are the ventricles."""

_PERIVENTRICULAR_MM = 10.0  # clinical convention: WMH within 10 mm of the ventricles is periventricular
_MIN_VENTRICLE_DEPTH_MM = 10.0  # CSF deeper than this inside the brain mask is not sulcal
_BRAIN_THRESHOLD = 0.2  # nilearn's own brain-mask rule: T1 template / max > 0.2
_ICBM152_FILES = {
    "t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "gm": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "wm": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
}


@dataclass(frozen=True)
class Template:
    """Tissue maps (float32 probabilities on the template grid) and what the generator derives from them."""

    affine: np.ndarray  # template voxel -> MNI mm
    gm: np.ndarray
    wm: np.ndarray
    csf: np.ndarray
    brain: np.ndarray  # brain mask as a float32 fraction (0..1; partial at the edge when block-averaged)
    outside_distance_mm: (
        np.ndarray
    )  # distance to the brain mask (0 inside): which subject voxels need sampling
    ventricles: np.ndarray  # soft lateral-ventricle map (CSF probability inside the ventricular component)
    ventricle_distance_mm: np.ndarray  # signed distance to the ventricle surface (negative inside)
    ventricle_normal: np.ndarray  # (3, X, Y, Z) unit outward normal of the ventricle surface, in voxel axes
    regions: np.ndarray  # uint8 labels of REGION_NAMES inside the brain, 0 outside
    surface_weight: np.ndarray  # 0..1, high in grey matter next to sulcal CSF: where cortical thinning acts
    horn_tips_mm: np.ndarray  # (4, 3): anterior left/right and posterior left/right ventricle tips (MNI mm)
    ventricle_centre_mm: np.ndarray  # (3,) ventricle centroid; its y splits anterior from posterior

    @property
    def voxel_mm(self) -> float:
        return float(abs(self.affine[0, 0]))

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.gm.shape)  # type: ignore[return-value]

    def mm_grid(self) -> np.ndarray:
        """MNI coordinates (3, X, Y, Z) of every template voxel."""
        ijk = np.indices(self.shape, dtype=np.float32).reshape(3, -1)
        mm = self.affine[:3, :3].astype(np.float32) @ ijk + self.affine[:3, 3:].astype(np.float32)
        return mm.reshape((3, *self.shape))


def template_resolution_for(finest_spacing_mm: float) -> int:
    """The nilearn template resolution (1 or 2 mm) to sample a grid whose finest spacing is given."""
    return 1 if finest_spacing_mm < 2.0 else 2


def _ventricle_mask(csf: np.ndarray, brain: np.ndarray, affine: np.ndarray, voxel_mm: float) -> np.ndarray:
    depth = ndi.distance_transform_edt(brain > 0.5, sampling=voxel_mm)
    labels, n = ndi.label((csf > 0.5) & (depth > _MIN_VENTRICLE_DEPTH_MM))
    if n == 0:
        raise RuntimeError("ICBM152 template: no central CSF component found for the ventricles")
    ijk = np.argwhere(labels > 0)
    centres_mm = ijk @ affine[:3, :3].T + affine[:3, 3]
    picked = set()
    for seed in VENTRICLE_SEEDS_MM:
        gap = np.linalg.norm(centres_mm - np.array(seed), axis=1)
        if gap.min() > 10.0:
            raise RuntimeError(f"ICBM152 template: no deep CSF within 10 mm of the ventricle seed {seed}")
        picked.add(int(labels[tuple(ijk[np.argmin(gap)])]))
    return np.isin(labels, sorted(picked))


def _horn_tips(mask: np.ndarray, mm: np.ndarray) -> np.ndarray:
    points = mm[:, mask].T  # (n, 3)
    tips = []
    for end in (np.argmax, np.argmin):  # anterior (max y), then posterior (min y)
        for side in (points[:, 0] < 0, points[:, 0] >= 0):  # left (x < 0 in RAS), then right
            half = points[side]
            tips.append(half[end(half[:, 1])])
    return np.array(tips, dtype=np.float32)


def icbm152_files() -> dict[str, Path]:
    """Paths of the ICBM152 2009 T1, GM and WM maps inside the installed nilearn package (no import, no download)."""
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "nilearn is not installed: the synthetic generator needs its ICBM152 template files"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    files = {key: folder / name for key, name in _ICBM152_FILES.items()}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise RuntimeError(f"nilearn's ICBM152 template files are missing: {', '.join(missing)}")
    return files


def _unit_scaled(image: nib.Nifti1Image) -> np.ndarray:
    """The map divided by its maximum, as nilearn does (the files store 0..255 integers)."""
    data = np.asarray(image.dataobj, dtype=np.float32)
    return data / data.max()


def _block_mean(volume: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return volume
    shape = [n // factor for n in volume.shape]
    cropped = volume[: shape[0] * factor, : shape[1] * factor, : shape[2] * factor]
    return cropped.reshape(shape[0], factor, shape[1], factor, shape[2], factor).mean(axis=(1, 3, 5))


@functools.lru_cache(maxsize=2)
def load_template(resolution: int = 2) -> Template:
    """The ICBM152 2009 maps at ``resolution`` mm (1, or 2 by averaging 2x2x2 blocks) with everything derived."""
    if resolution not in (1, 2):
        raise ValueError(f"template resolution must be 1 or 2 mm, got {resolution}")
    files = icbm152_files()
    t1_img = nib.load(str(files["t1"]))
    brain_1mm = (_unit_scaled(t1_img) > _BRAIN_THRESHOLD).astype(np.float32)
    maps = {key: _unit_scaled(nib.load(str(files[key]))) * brain_1mm for key in ("gm", "wm")}
    affine = t1_img.affine.copy()
    affine[:3, 3] += affine[:3, :3] @ np.full(3, (resolution - 1) / 2.0)  # centre of each block
    affine[:3, :3] *= resolution
    voxel_mm = float(abs(affine[0, 0]))
    brain = _block_mean(brain_1mm, resolution)
    gm = _block_mean(maps["gm"], resolution)
    wm = _block_mean(maps["wm"], resolution)
    csf = np.clip(brain - gm - wm, 0.0, 1.0)

    ijk = np.indices(brain.shape, dtype=np.float32).reshape(3, -1)
    mm = (affine[:3, :3] @ ijk + affine[:3, 3:]).astype(np.float32).reshape((3, *brain.shape))
    core = _ventricle_mask(csf, brain, affine, voxel_mm)
    ventricles = csf * ndi.binary_dilation(core, iterations=1)

    outside = ndi.distance_transform_edt(~core, sampling=voxel_mm)
    inside = ndi.distance_transform_edt(core, sampling=voxel_mm)
    distance = (outside - inside).astype(np.float32)
    gradient = np.stack(np.gradient(ndi.gaussian_filter(distance, 1.0)))
    normal = (gradient / np.maximum(np.linalg.norm(gradient, axis=0), 1e-6)).astype(np.float32)

    centre = mm[:, core].mean(axis=1)
    regions = np.where(distance <= _PERIVENTRICULAR_MM, np.where(mm[1] >= centre[1], 1, 2), 3).astype(
        np.uint8
    )
    regions[brain < 0.5] = 0

    sulcal = (1.0 - brain) + csf * (1.0 - ndi.binary_dilation(core, iterations=3))
    proximity = ndi.gaussian_filter(sulcal, 2.0 / voxel_mm)
    surface_weight = (
        np.clip(proximity / max(float(np.percentile(proximity[gm > 0.5], 95)), 1e-6), 0, 1) * brain
    )

    return Template(
        affine=affine,
        gm=gm,
        wm=wm,
        csf=csf,
        brain=brain,
        outside_distance_mm=ndi.distance_transform_edt(brain < 0.5, sampling=voxel_mm).astype(np.float32),
        ventricles=ventricles.astype(np.float32),
        ventricle_distance_mm=distance,
        ventricle_normal=normal,
        regions=regions,
        surface_weight=surface_weight.astype(np.float32),
        horn_tips_mm=_horn_tips(core, mm),
        ventricle_centre_mm=centre.astype(np.float32),
    )
