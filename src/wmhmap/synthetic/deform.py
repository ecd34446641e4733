"""Subject and visit geometry: a random affine (head size, shape, pose) plus a smooth non-linear field
that map a scanner-space point back to the template it is sampled from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

__all__ = [
    "AnatomyModel",
    "SmoothField",
    "SubjectTransform",
    "rotation_matrix",
    "draw_subject_transform",
    "with_visit_pose",
]


@dataclass(frozen=True)
class AnatomyModel:
    """How subject anatomy and head position vary. The ICBM152 template is larger than most heads,
    so the linear ``head_scale`` (per sex) is below 1; sds are per axis."""

    head_scale: Mapping[str, float] = field(default_factory=lambda: {"F": 0.90, "M": 0.94})
    head_scale_sd: float = 0.025
    axis_scale_sd: float = 0.03
    rotation_deg: float = 6.0
    translation_mm: float = 5.0
    visit_rotation_deg: float = 2.0
    visit_translation_mm: float = 3.0
    nonlinear_mm: float = 2.5
    nonlinear_spacing_mm: float = 24.0
    fov_offset_mm: float = 5.0


def rotation_matrix(angles_rad: np.ndarray) -> np.ndarray:
    """Rotation about x, then y, then z by the given angles (radians)."""
    ax, ay, az = angles_rad
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


@dataclass(frozen=True)
class SmoothField:
    """A displacement field (mm) on a coarse regular grid in template space, interpolated linearly."""

    origin_mm: np.ndarray  # (3,)
    spacing_mm: float
    values: np.ndarray  # (3, gx, gy, gz)

    def __call__(self, points_mm: np.ndarray) -> np.ndarray:
        """Displacements (3, N) at template points (3, N)."""
        nodes = (points_mm - self.origin_mm[:, None]) / self.spacing_mm
        return np.stack([ndi.map_coordinates(v, nodes, order=1, mode="nearest") for v in self.values])


@dataclass(frozen=True)
class SubjectTransform:
    """Maps scanner (world) points of a subject-visit to template points: inverse affine, then the field."""

    world_from_template: np.ndarray  # 4x4
    field: SmoothField
    head_scale: float  # isotropic part of the linear map (volume factor = head_scale ** 3)

    def template_points(self, world_mm: np.ndarray, nonlinear: bool = True) -> np.ndarray:
        """Template mm coordinates (3, N) of world points (3, N)."""
        inverse = np.linalg.inv(self.world_from_template)
        points = (inverse[:3, :3] @ world_mm + inverse[:3, 3:]).astype(np.float32)
        return points + self.field(points).astype(np.float32) if nonlinear else points

    def world_point(self, template_mm: np.ndarray) -> np.ndarray:
        """Scanner coordinates of one template point (affine part only)."""
        return self.world_from_template[:3, :3] @ template_mm + self.world_from_template[:3, 3]


def _rigid(
    rng: np.random.Generator, rotation_deg: float, translation_mm: float, centre: np.ndarray
) -> np.ndarray:
    matrix = np.eye(4)
    rotation = rotation_matrix(np.deg2rad(rng.normal(0.0, rotation_deg, 3)))
    matrix[:3, :3] = rotation
    matrix[:3, 3] = centre - rotation @ centre + rng.normal(0.0, translation_mm, 3)
    return matrix


def draw_subject_transform(
    rng: np.random.Generator,
    sex: str,
    model: AnatomyModel,
    centre_mm: np.ndarray,
    bounds_mm: tuple[np.ndarray, np.ndarray],
) -> SubjectTransform:
    """A subject's head: size by sex, shape jitter, pose about the brain centre, and a smooth warp over ``bounds_mm``."""
    scale = model.head_scale[sex] * np.exp(rng.normal(0.0, model.head_scale_sd))
    axes = scale * np.exp(rng.normal(0.0, model.axis_scale_sd, 3))
    linear = np.diag(axes)
    affine = np.eye(4)
    affine[:3, :3] = linear
    affine[:3, 3] = -linear @ centre_mm  # brain centre to the scanner origin
    pose = _rigid(rng, model.rotation_deg, model.translation_mm, np.zeros(3))

    low, high = bounds_mm
    nodes = np.ceil((high - low) / model.nonlinear_spacing_mm).astype(int) + 3
    origin = low - model.nonlinear_spacing_mm
    raw = ndi.gaussian_filter(rng.normal(size=(3, *nodes)), sigma=(0, 1, 1, 1), mode="wrap")
    values = raw / max(float(raw.std()), 1e-9) * model.nonlinear_mm
    warp = SmoothField(
        origin.astype(np.float32), float(model.nonlinear_spacing_mm), values.astype(np.float32)
    )
    return SubjectTransform(pose @ affine, warp, float(np.prod(axes) ** (1 / 3)))


def with_visit_pose(
    transform: SubjectTransform, rng: np.random.Generator, model: AnatomyModel
) -> SubjectTransform:
    """The same head repositioned in the scanner for one visit (small rigid motion)."""
    pose = _rigid(rng, model.visit_rotation_deg, model.visit_translation_mm, np.zeros(3))
    return SubjectTransform(pose @ transform.world_from_template, transform.field, transform.head_scale)
