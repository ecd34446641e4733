"""One synthetic subject-visit: sample the (atrophied, lesioned) template through the subject's warp
onto its site's scanner grid, synthesise FLAIR and T1, and measure the truth on the saved grid."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage as ndi

from wmhmap.io.atomic import save_nifti
from wmhmap.synthetic.atrophy import pull_from_ventricles, thinned_grey_matter
from wmhmap.synthetic.contrast import synthesise
from wmhmap.synthetic.deform import AnatomyModel, draw_subject_transform, with_visit_pose
from wmhmap.synthetic.lesion_shapes import LesionShapeModel, render_other_pathology, render_wmh
from wmhmap.synthetic.sites import Site, grid_affine, grid_shape
from wmhmap.synthetic.template import REGION_NAMES, Template, load_template

__all__ = [
    "SYNTHETIC_DESCRIPTION",
    "VisitJob",
    "VisitImages",
    "measured_volumes",
    "render_visit",
    "slab_samples",
    "write_visit",
]

SYNTHETIC_DESCRIPTION = "SYNTHETIC image (wmhmap generator), not a real subject"
_THICK_SLAB_RATIO = 2.5  # voxel axes this many template voxels thick are averaged over 3 sub-samples


@dataclass(frozen=True)
class VisitJob:
    """Everything needed to render one subject-visit; random streams come from (seed, subject, visit)."""

    seed: int
    subject_index: int
    visit_index: int
    site: Site
    sex: str
    resolution_mm: float
    template_resolution: int
    targets_ml: Mapping[str, float]
    ventricle_dilation_mm: float
    ventricle_decay_mm: float
    gm_loss: float
    has_other: bool
    anatomy: AnatomyModel
    shapes: LesionShapeModel


@dataclass
class VisitImages:
    """A rendered visit on its own grid: images, labels, tissue fractions and the measured truth."""

    affine: np.ndarray
    flair: np.ndarray
    t1: np.ndarray
    labels: np.ndarray  # uint8: 0 background, 1 WMH, 2 other pathology
    brain_mask: np.ndarray  # uint8
    tissue: dict[str, np.ndarray]  # gm, wm, csf, ventricles fractions (float32)
    truth: dict[str, float]


def slab_samples(spacing: np.ndarray, template_mm: float) -> np.ndarray:
    """Sub-voxel offsets (3, K) in voxel units: 3 along each axis thicker than 2.5 template voxels, so thick
    slices average the anatomy across the slab (partial volume); the voxel centre is always sample K // 2."""
    per_axis = [
        np.array([-1 / 3, 0.0, 1 / 3]) if s >= _THICK_SLAB_RATIO * template_mm else np.zeros(1)
        for s in spacing
    ]
    return np.stack([a.ravel() for a in np.meshgrid(*per_axis, indexing="ij")])


def _streams(job: VisitJob) -> tuple[list[np.random.Generator], list[np.random.Generator]]:
    subject = np.random.SeedSequence(job.seed, spawn_key=(job.subject_index,)).spawn(4)
    visit = np.random.SeedSequence(job.seed, spawn_key=(job.subject_index, 1000 + job.visit_index)).spawn(3)
    return [np.random.default_rng(s) for s in subject], [np.random.default_rng(s) for s in visit]


def _sample(volume: np.ndarray, voxels: np.ndarray, order: int = 1) -> np.ndarray:
    return ndi.map_coordinates(volume, voxels, order=order, mode="constant", cval=0.0, prefilter=False)


def render_visit(job: VisitJob, template: Template | None = None) -> VisitImages:
    """Render one subject-visit (deterministic given the job)."""
    template = template or load_template(job.template_resolution)
    (anatomy_rng, pv_rng, blob_rng, other_rng), (pose_rng, flair_rng, t1_rng) = _streams(job)
    brain_mm = template.mm_grid()[:, template.brain > 0.5]
    centre = brain_mm.mean(axis=1)
    transform = draw_subject_transform(
        anatomy_rng, job.sex, job.anatomy, centre, (brain_mm.min(axis=1), brain_mm.max(axis=1))
    )
    transform = with_visit_pose(transform, pose_rng, job.anatomy)

    shape, spacing = grid_shape(job.site, job.resolution_mm)
    fov_centre = transform.world_point(centre) + pose_rng.normal(0.0, job.anatomy.fov_offset_mm, 3)
    affine = grid_affine(shape, spacing, job.site.orientation, fov_centre)
    template_from_mm = np.linalg.inv(template.affine).astype(np.float32)

    ijk = np.indices(shape, dtype=np.float32).reshape(3, -1)
    world = (affine[:3, :3] @ ijk + affine[:3, 3:]).astype(np.float32)
    rough = (
        template_from_mm[:3, :3] @ transform.template_points(world, nonlinear=False)
        + template_from_mm[:3, 3:]
    )
    margin = (
        4.0 * job.anatomy.nonlinear_mm
        + job.ventricle_dilation_mm
        + float(spacing.max())
        + 2 * template.voxel_mm
    )
    gap = ndi.map_coordinates(template.outside_distance_mm, rough, order=0, mode="constant", cval=1e9)
    near = np.nonzero(gap < margin)[0]

    offsets = slab_samples(spacing, template.voxel_mm).astype(np.float32)
    n_sub = offsets.shape[1]
    points = world[:, near, None] + (affine[:3, :3].astype(np.float32) @ offsets)[:, None, :]
    mm = transform.template_points(points.reshape(3, -1))
    voxels = template_from_mm[:3, :3] @ mm + template_from_mm[:3, 3:]
    voxels, in_ventricle = pull_from_ventricles(
        template, voxels, job.ventricle_dilation_mm, job.ventricle_decay_mm
    )

    volume_factor = transform.head_scale**3
    wmh, counts = render_wmh(
        template, {k: v / volume_factor for k, v in job.targets_ml.items()}, pv_rng, blob_rng, job.shapes
    )
    other = render_other_pathology(template, other_rng, job.shapes) if job.has_other else None
    gm, csf = thinned_grey_matter(template, job.gm_loss)
    maps = {
        "gm": gm,
        "wm": template.wm,
        "csf": csf,
        "ventricles": template.ventricles,
        "wmh": wmh,
    }
    if other is not None:
        maps["other"] = other
    pure_csf = {"gm": 0.0, "wm": 0.0, "csf": 1.0, "ventricles": 1.0, "wmh": 0.0, "other": 0.0}
    sampled = {}
    for key, values in maps.items():
        at_points = _sample(values, voxels)
        at_points[in_ventricle] = pure_csf[key]
        sampled[key] = at_points.reshape(-1, n_sub).mean(axis=1)
    sampled.setdefault("other", np.zeros(len(near), np.float32))
    centres = voxels.reshape(3, -1, n_sub)[:, :, n_sub // 2]
    region = _sample(template.regions, centres, order=0)

    n_vox = int(np.prod(shape))
    inside = sampled["gm"] + sampled["wm"] + sampled["csf"] > 0.5  # the template's CSF is brain - GM - WM
    keep = near[inside]

    def volume(values: np.ndarray, dtype: type = np.float32) -> np.ndarray:
        out = np.zeros(n_vox, dtype=dtype)
        out[keep] = values[inside]
        return out.reshape(shape)

    labels_flat = np.where(sampled["other"] > 0.5, 2, np.where(sampled["wmh"] > 0.5, 1, 0)).astype(np.uint8)
    fractions = {k: sampled[k][inside] for k in ("csf", "gm", "wm", "wmh", "other")}
    intensities = {}
    for modality, rng in (("flair", flair_rng), ("t1", t1_rng)):
        values = synthesise(
            rng,
            fractions,
            world[:, keep],
            getattr(job.site, modality),
            job.site.noise,
            job.site.bias,
            job.site.scale,
        )
        intensities[modality] = np.zeros(n_vox, np.float32)
        intensities[modality][keep] = values
    labels = volume(labels_flat, np.uint8)
    mask = volume(np.ones(len(near), np.uint8), np.uint8)
    tissue = {k: volume(sampled[k]) for k in ("gm", "wm", "csf", "ventricles")}
    region_map = volume(region, np.uint8)

    truth = {
        "head_scale": transform.head_scale,
        **counts,
        "n_other_lesions": int(job.has_other),
        **measured_volumes(labels, mask, tissue, region_map, float(np.prod(spacing)) / 1000.0),
    }
    return VisitImages(
        affine=affine,
        flair=intensities["flair"].reshape(shape),
        t1=intensities["t1"].reshape(shape),
        labels=labels,
        brain_mask=mask,
        tissue=tissue,
        truth=truth,
    )


def measured_volumes(
    labels: np.ndarray,
    mask: np.ndarray,
    tissue: Mapping[str, np.ndarray],
    regions: np.ndarray,
    voxel_ml: float,
) -> dict[str, float]:
    """Truth counted on the saved grid: WMH (total, per generator region, 26-connected components), other
    pathology, intracranial volume (brain mask) and tissue volumes (sums of fractions), all in mL."""
    wmh = labels == 1
    return {
        "n_wmh_components": int(ndi.label(wmh, structure=np.ones((3, 3, 3)))[1]),
        "wmh_ml": float(wmh.sum()) * voxel_ml,
        **{
            f"wmh_ml_{name}": float((wmh & (regions == i)).sum()) * voxel_ml
            for i, name in REGION_NAMES.items()
        },
        "other_pathology_ml": float((labels == 2).sum()) * voxel_ml,
        "icv_ml": float(mask.sum()) * voxel_ml,
        "ventricle_ml": float(tissue["ventricles"].sum()) * voxel_ml,
        **{f"{k}_ml": float(tissue[k].sum()) * voxel_ml for k in ("gm", "wm", "csf")},
    }


def _nifti(data: np.ndarray, affine: np.ndarray) -> nib.Nifti1Image:
    image = nib.Nifti1Image(data, affine)
    image.header.set_xyzt_units("mm", "sec")
    image.header.set_qform(affine, code=1)
    image.header.set_sform(affine, code=1)
    image.header["descrip"] = SYNTHETIC_DESCRIPTION.encode()[:79]
    return image


def write_visit(job: VisitJob, folder: str | Path) -> dict[str, float | str]:
    """Render a visit and save flair, t1, wmh and brain_mask (.nii.gz) in ``folder``; return paths and truth."""
    images = render_visit(job)
    folder = Path(folder)
    paths = {}
    for name, data in (
        ("flair", images.flair),
        ("t1", images.t1),
        ("wmh", images.labels),
        ("brain_mask", images.brain_mask),
    ):
        paths[name] = str(save_nifti(_nifti(data, images.affine), folder / f"{name}.nii.gz").absolute())
    shape_zooms = {
        "voxel_size_mm": "x".join(f"{z:g}" for z in nib.affines.voxel_sizes(images.affine)),
        "shape": "x".join(map(str, images.labels.shape)),
    }
    return {**paths, **shape_zooms, **images.truth}
