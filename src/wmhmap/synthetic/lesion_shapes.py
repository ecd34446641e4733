"""Where WMH lie, drawn as soft (0..1) maps on the template grid: periventricular caps and bands whose
thickness is solved to hit each region's target volume, deep punctate and confluent blobs with a
heavy-tailed size distribution, and the occasional lacune/infarct (label 2, "other pathology")."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from wmhmap.synthetic.deform import rotation_matrix
from wmhmap.synthetic.template import REGION_NAMES, Template

__all__ = [
    "LesionShapeModel",
    "Blob",
    "wm_gate",
    "periventricular_field",
    "deep_blobs",
    "render_blobs",
    "render_wmh",
    "render_other_pathology",
]

_SUPRATENTORIAL_Z_MM = -10.0  # lesion centres above this MNI z: no WMH drawn in cerebellum or brainstem
_REGION_INDEX = {name: index for index, name in REGION_NAMES.items()}


@dataclass(frozen=True)
class LesionShapeModel:
    """Geometry of lesions: periventricular caps/bands, deep blob sizes (Pareto radii) and other pathology."""

    cap_gain: float = 3.0  # extra thickness at the ventricular horn tips, relative to the band
    cap_width_mm: float = 10.0
    band_irregularity: float = 0.7  # sd of the smooth relative variation of band thickness
    irregularity_mm: float = 5.0
    max_thickness_mm: float = 25.0
    edge_mm: float = 0.6
    wm_threshold: float = 0.4  # white-matter probability where lesions may start (full at +0.3)
    min_radius_mm: float = 1.5
    max_radius_mm: float = 8.0
    radius_power: float = 2.5  # Pareto tail: many small, few large
    confluent_radius_mm: float = 3.5  # blobs larger than this grow satellites (confluent lesions)
    deep_min_distance_mm: float = 12.0
    other_radius_mm: tuple[float, float] = (2.5, 6.0)


@dataclass(frozen=True)
class Blob:
    """One deep lesion: ellipsoids (centre mm, semi-axes mm, rotation) that together form it."""

    parts: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]

    @property
    def nominal_ml(self) -> float:
        return float(sum(4.0 / 3.0 * np.pi * np.prod(axes) for _, axes, _ in self.parts)) / 1000.0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))


def wm_gate(template: Template, threshold: float) -> np.ndarray:
    """0..1: how much a lesion may occupy a voxel, by its white-matter probability (lesions only in WM)."""
    return np.clip((template.wm - threshold) / 0.3, 0.0, 1.0) * (template.brain > 0.5)


def periventricular_field(
    template: Template, targets_ml: Mapping[str, float], noise: np.ndarray, model: LesionShapeModel
) -> np.ndarray:
    """Caps and bands: lesion where the distance to the ventricles is below a thickness field; the anterior
    and posterior thickness scales are solved (bisection) so each region holds its target volume (template mL,
    counted as voxels above one half, as a label map would be)."""
    gate = wm_gate(template, model.wm_threshold)
    candidates = np.nonzero((template.ventricle_distance_mm < model.max_thickness_mm) & (gate > 0))
    ijk = np.stack(candidates).astype(np.float32)
    mm = template.affine[:3, :3].astype(np.float32) @ ijk + template.affine[:3, 3:].astype(np.float32)
    r = template.ventricle_distance_mm[candidates]
    g = gate[candidates]
    region = template.regions[candidates]
    band = np.clip(1.0 + model.band_irregularity * noise[candidates], 0.0, None)

    def shape(tips: np.ndarray) -> np.ndarray:
        gap = np.min(np.linalg.norm(mm.T[:, None, :] - tips[None, :, :], axis=2), axis=1)
        return band + model.cap_gain * np.exp(-0.5 * (gap / model.cap_width_mm) ** 2)

    s_ant, s_post = shape(template.horn_tips_mm[:2]), shape(template.horn_tips_mm[2:])
    w_ant = _sigmoid((mm[1] - template.ventricle_centre_mm[1]) / 6.0)
    voxel_ml = template.voxel_mm**3 / 1000.0

    def soft(t_ant: float, t_post: float) -> np.ndarray:
        thickness = t_ant * s_ant * w_ant + t_post * s_post * (1.0 - w_ant)
        return _sigmoid((thickness - r) / model.edge_mm) * np.clip(thickness / model.edge_mm, 0.0, 1.0) * g

    def solve(index: int, fixed: float, anterior: bool, target: float) -> float:
        if target <= 0:
            return 0.0
        low, high = 0.0, model.max_thickness_mm
        for _ in range(24):
            mid = 0.5 * (low + high)
            values = soft(mid, fixed) if anterior else soft(fixed, mid)
            if float((values[region == index] > 0.5).sum()) * voxel_ml < target:
                low = mid
            else:
                high = mid
        return 0.5 * (low + high)

    ant_target = targets_ml["periventricular_anterior"]
    post_target = targets_ml["periventricular_posterior"]
    t_ant = solve(_REGION_INDEX["periventricular_anterior"], 0.0, True, ant_target)
    t_post = solve(_REGION_INDEX["periventricular_posterior"], t_ant, False, post_target)
    t_ant = solve(_REGION_INDEX["periventricular_anterior"], t_post, True, ant_target)
    field = np.zeros(template.shape, dtype=np.float32)
    field[candidates] = soft(t_ant, t_post)
    return field


def deep_blobs(rng: np.random.Generator, template: Template, model: LesionShapeModel) -> Iterator[Blob]:
    """An endless stream of deep lesions (take a prefix): Pareto radii, random shape; big ones are confluent."""
    mm = template.mm_grid()
    where = (
        (template.wm > 0.8)
        & (template.ventricle_distance_mm > model.deep_min_distance_mm)
        & (mm[2] > _SUPRATENTORIAL_Z_MM)
    )
    centres = mm[:, where].T
    jitter = template.voxel_mm / 2
    while True:
        centre = centres[rng.integers(len(centres))] + rng.uniform(-jitter, jitter, 3)
        radius = min(model.min_radius_mm * rng.uniform() ** (-1.0 / model.radius_power), model.max_radius_mm)
        parts = [
            (centre, radius * np.exp(rng.normal(0.0, 0.2, 3)), rotation_matrix(rng.uniform(0, np.pi, 3)))
        ]
        if radius > model.confluent_radius_mm:
            for _ in range(int(rng.integers(2, 5))):
                direction = rng.normal(size=3)
                offset = direction / np.linalg.norm(direction) * radius * rng.uniform(0.6, 1.1)
                size = radius * rng.uniform(0.35, 0.75) * np.exp(rng.normal(0.0, 0.2, 3))
                parts.append((centre + offset, size, rotation_matrix(rng.uniform(0, np.pi, 3))))
        yield Blob(tuple(parts))


def render_blobs(template: Template, blobs: list[Blob], edge_mm: float) -> np.ndarray:
    """Soft union (voxel-wise max) of the blobs' ellipsoids on the template grid."""
    field = np.zeros(template.shape, dtype=np.float32)
    inverse = np.linalg.inv(template.affine)
    for blob in blobs:
        for centre, axes, rotation in blob.parts:
            reach = float(axes.max()) + 2 * edge_mm
            low = np.floor(inverse[:3, :3] @ (centre - reach) + inverse[:3, 3]).astype(int)
            high = np.ceil(inverse[:3, :3] @ (centre + reach) + inverse[:3, 3]).astype(int) + 1
            low, high = np.maximum(low, 0), np.minimum(high, template.shape)
            if np.any(high <= low):
                continue
            box = tuple(slice(a, b) for a, b in zip(low, high, strict=True))
            ijk = np.indices(high - low).reshape(3, -1) + low[:, None]
            mm = template.affine[:3, :3] @ ijk + template.affine[:3, 3:]
            local = (rotation.T @ (mm - centre[:, None])) / axes[:, None]
            rho = np.linalg.norm(local, axis=0)
            values = _sigmoid((1.0 - rho) * float(axes.min()) / edge_mm).reshape(high - low)
            field[box] = np.maximum(field[box], values.astype(np.float32))
    return field


def render_wmh(
    template: Template,
    targets_ml: Mapping[str, float],
    pv_rng: np.random.Generator,
    blob_rng: np.random.Generator,
    model: LesionShapeModel,
) -> tuple[np.ndarray, dict[str, int]]:
    """The soft WMH map on the template grid for regional targets given in template mL, and lesion counts.
    The same generators and larger targets give a superset of lesions (how later visits grow)."""
    noise = ndi.gaussian_filter(
        pv_rng.normal(size=template.shape).astype(np.float32), model.irregularity_mm / template.voxel_mm
    )
    noise /= max(float(noise.std()), 1e-9)
    field = periventricular_field(template, targets_ml, noise, model)
    blobs, volume = [], 0.0
    stream = deep_blobs(blob_rng, template, model)
    while volume < targets_ml["deep"]:
        blob = next(stream)
        blobs.append(blob)
        volume += blob.nominal_ml
    deep = render_blobs(template, blobs, model.edge_mm) * wm_gate(template, model.wm_threshold)
    counts = {"n_deep_lesions": len(blobs), "n_confluent_lesions": sum(len(b.parts) > 1 for b in blobs)}
    return np.maximum(field, deep), counts


def render_other_pathology(
    template: Template, rng: np.random.Generator, model: LesionShapeModel
) -> np.ndarray:
    """A lacune or small infarct (soft map): one roughly round cavity in deep grey or white matter."""
    mm = template.mm_grid()
    where = (
        (template.gm + template.wm > 0.9)
        & (template.ventricle_distance_mm > 4.0)
        & (template.ventricle_distance_mm < 25.0)
        & (mm[2] > _SUPRATENTORIAL_Z_MM)
    )
    centres = mm[:, where].T
    radius = rng.uniform(*model.other_radius_mm)
    blob = Blob(
        (
            (
                centres[rng.integers(len(centres))],
                radius * np.exp(rng.normal(0.0, 0.15, 3)),
                rotation_matrix(rng.uniform(0, np.pi, 3)),
            ),
        )
    )
    return render_blobs(template, [blob], model.edge_mm) * (template.brain > 0.5)
