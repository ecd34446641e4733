"""Scanner sites of the synthetic cohort: voxel grid, orientation, tissue contrast, noise and bias per site."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import nibabel as nib
import numpy as np

__all__ = ["TISSUES", "DEFAULT_SITES", "Site", "as_sites", "grid_affine", "grid_shape"]

TISSUES: tuple[str, ...] = ("csf", "gm", "wm", "wmh", "other")
"""Tissue classes with an intensity per modality: CSF, grey and white matter, WMH, other pathology (label 2)."""


@dataclass(frozen=True)
class Site:
    """One scanner/protocol. ``spacing_mm`` is at 1 mm nominal resolution; the cohort multiplies it by
    its ``resolution_mm`` factor. Intensities are relative to white matter on T1 (1.0) and scaled by ``scale``."""

    name: str
    scanner: str
    spacing_mm: tuple[float, float, float]
    fov_mm: tuple[float, float, float]
    flair: Mapping[str, float]
    t1: Mapping[str, float]
    orientation: str = "RAS"  # voxel axis directions, nibabel axis codes (e.g. "LAS": x runs right to left)
    noise: float = 0.03  # Rician noise sd relative to white matter
    bias: float = 0.1  # sd of the log bias field inside the brain
    scale: float = 1000.0  # intensity units of the stored images
    weight: float = 1.0  # share of subjects scanned here

    def __post_init__(self) -> None:
        problems = []
        if len(self.spacing_mm) != 3 or min(self.spacing_mm) <= 0:
            problems.append(f"spacing_mm must be three positive numbers, got {self.spacing_mm}")
        if len(self.fov_mm) != 3 or min(self.fov_mm) <= 0:
            problems.append(f"fov_mm must be three positive numbers, got {self.fov_mm}")
        for modality in ("flair", "t1"):
            missing = [t for t in TISSUES if t not in getattr(self, modality)]
            if missing:
                problems.append(f"{modality} intensities lack {', '.join(missing)}")
        try:
            nib.orientations.axcodes2ornt(tuple(self.orientation))
        except ValueError:
            problems.append(
                f"orientation {self.orientation!r} is not three distinct axis codes such as 'RAS'"
            )
        if self.noise < 0 or self.bias < 0 or self.scale <= 0 or self.weight <= 0:
            problems.append("noise and bias must be >= 0, scale and weight > 0")
        if problems:
            raise ValueError(f"site {self.name!r}: " + "; ".join(problems))


_FLAIR_3T = {"csf": 0.12, "gm": 0.80, "wm": 0.58, "wmh": 1.35, "other": 0.20}
_T1_3T = {"csf": 0.22, "gm": 0.58, "wm": 1.00, "wmh": 0.68, "other": 0.22}

DEFAULT_SITES: tuple[dict, ...] = (
    {
        "name": "siteA",
        "scanner": "synthetic 3T, 3D FLAIR and MPRAGE, 1 mm isotropic",
        "spacing_mm": [1.0, 1.0, 1.0],
        "fov_mm": [180.0, 216.0, 180.0],
        "orientation": "RAS",
        "flair": dict(_FLAIR_3T),
        "t1": dict(_T1_3T),
        "noise": 0.03,
        "bias": 0.08,
        "scale": 1000.0,
        "weight": 1.0,
    },
    {
        "name": "siteB",
        "scanner": "synthetic 1.5T, 2D axial FLAIR and T1, 1x1x3 mm",
        "spacing_mm": [1.0, 1.0, 3.0],
        "fov_mm": [220.0, 220.0, 180.0],
        "orientation": "LAS",
        "flair": {"csf": 0.20, "gm": 0.78, "wm": 0.62, "wmh": 1.20, "other": 0.28},
        "t1": {"csf": 0.30, "gm": 0.65, "wm": 1.00, "wmh": 0.74, "other": 0.30},
        "noise": 0.05,
        "bias": 0.12,
        "scale": 400.0,
        "weight": 1.0,
    },
    {
        "name": "siteC",
        "scanner": "synthetic 3T, 3D FLAIR and T1, 1.2 mm isotropic",
        "spacing_mm": [1.2, 1.2, 1.2],
        "fov_mm": [192.0, 228.0, 192.0],
        "orientation": "RAS",
        "flair": {"csf": 0.10, "gm": 0.85, "wm": 0.55, "wmh": 1.45, "other": 0.18},
        "t1": {"csf": 0.18, "gm": 0.52, "wm": 1.00, "wmh": 0.62, "other": 0.18},
        "noise": 0.04,
        "bias": 0.12,
        "scale": 1.0,
        "weight": 1.0,
    },
)
"""Three sites: 3D ~1 mm isotropic, 2D thick axial slices (stored LAS), and a 3D 1.2 mm site."""


def as_sites(sites: Sequence[Mapping | Site]) -> tuple[Site, ...]:
    """Sites from plain mappings (as Hydra passes them) or :class:`Site` objects; names must be unique."""
    known = {f.name for f in fields(Site)}
    out = []
    for entry in sites:
        if isinstance(entry, Site):
            out.append(entry)
            continue
        unknown = sorted(set(entry) - known)
        if unknown:
            raise ValueError(f"site {entry.get('name', '?')!r}: unknown key(s) {', '.join(unknown)}")
        values = dict(entry)
        for key in ("spacing_mm", "fov_mm"):
            if key in values:
                values[key] = tuple(float(v) for v in values[key])
        for key in ("flair", "t1"):
            if key in values:
                values[key] = {k: float(v) for k, v in values[key].items()}
        out.append(Site(**values))
    if not out:
        raise ValueError("at least one site is needed")
    names = [s.name for s in out]
    if len(set(names)) != len(names):
        raise ValueError(f"site names must be unique, got {names}")
    return tuple(out)


def grid_shape(site: Site, resolution_mm: float) -> tuple[tuple[int, int, int], np.ndarray]:
    """The voxel grid (shape, spacing in mm) of ``site`` at a resolution factor of ``resolution_mm``."""
    spacing = np.asarray(site.spacing_mm, dtype=float) * resolution_mm
    shape = tuple(int(max(1, round(f / s))) for f, s in zip(site.fov_mm, spacing, strict=True))
    return shape, spacing  # type: ignore[return-value]


def grid_affine(
    shape: Sequence[int], spacing: np.ndarray, orientation: str, centre_mm: np.ndarray
) -> np.ndarray:
    """Voxel -> world affine of a grid with ``spacing`` whose axes follow ``orientation``, centred on ``centre_mm``."""
    ornt = nib.orientations.axcodes2ornt(tuple(orientation))
    linear = np.zeros((3, 3))
    for voxel_axis, (world_axis, sign) in enumerate(ornt):
        linear[int(world_axis), voxel_axis] = sign * spacing[voxel_axis]
    affine = np.eye(4)
    affine[:3, :3] = linear
    affine[:3, 3] = np.asarray(centre_mm, dtype=float) - linear @ ((np.asarray(shape, dtype=float) - 1) / 2)
    return affine
