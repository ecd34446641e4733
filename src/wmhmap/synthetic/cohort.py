"""`generate_cohort`: the synthetic demo/test cohort, images + ground truth + manifest frame.

Anatomy comes from the ICBM152 2009 template (nilearn's package data), deformed per subject; atrophy and
WMH load follow age and diagnosis with effect sizes set here, so a classifier finds a real but imperfect
signal that lies more in lesion location than in total load. Everything written is marked synthetic.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, fields, is_dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from wmhmap.data.manifest import PATH_COLUMNS
from wmhmap.io.atomic import atomic_path, write_table
from wmhmap.synthetic.atrophy import AtrophyModel, atrophy_factors
from wmhmap.synthetic.deform import AnatomyModel
from wmhmap.synthetic.design import draw_subjects, visit_rows
from wmhmap.synthetic.lesion_load import LesionLoadModel, draw_lesion_latents, regional_targets
from wmhmap.synthetic.lesion_shapes import LesionShapeModel
from wmhmap.synthetic.montage import write_montage
from wmhmap.synthetic.sites import DEFAULT_SITES, Site, as_sites, grid_shape
from wmhmap.synthetic.subject import VisitJob, write_visit
from wmhmap.synthetic.template import REGION_NAMES, load_template, template_resolution_for

__all__ = ["DEFAULT_DIAGNOSIS_FRACTIONS", "build_model", "generate_cohort", "plan_visits"]

log = logging.getLogger(__name__)

DEFAULT_DIAGNOSIS_FRACTIONS: Mapping[str, float] = MappingProxyType({"CN": 0.4, "MCI": 0.3, "AD": 0.3})

M = TypeVar("M")


def build_model(cls: type[M], value: M | Mapping[str, Any] | None) -> M:
    """A model dataclass from None (defaults), an instance, or a (partial) mapping as Hydra passes it."""
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(value) - known)
    if unknown:
        raise ValueError(
            f"{cls.__name__}: unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in value.items()})


def _readme(config: Mapping[str, Any], n_visits: int) -> str:
    return f"""SYNTHETIC DATA: these images are not from real people.

Made by wmhmap.synthetic.generate_cohort ({n_visits} subject-visits). Each subject is the ICBM152 2009
template (T1 and GM/WM probability maps shipped with nilearn; CSF = brain mask - GM - WM; the lateral
ventricles are its central CSF components) deformed by a random affine (head size by sex, shape, pose)
and a smooth non-linear field, then resampled onto its site's scanner grid (own affine and voxel size;
thick-slice sites average the anatomy across each slice).
Atrophy: the ventricles widen and cortical grey matter thins into CSF, more with age and diagnosis
(CN < MCI < AD). Lesions (wmh.nii.gz label 1): periventricular caps and bands plus deep punctate and
confluent blobs, only in white matter; total load grows with age, and AD/MCI subjects carry a larger
share in the chosen region. Label 2 marks other pathology (a lacune/infarct) in some subjects.
FLAIR and T1 are mixed from tissue fractions with per-site contrast, bias field and Rician noise; images
are skull-stripped (brain_mask.nii.gz). Later visits are older, with more lesions and atrophy.

Files: sub-XXX/ses-YY/{{flair,t1,wmh,brain_mask}}.nii.gz; truth.csv (one row per subject-visit: true
generating parameters and volumes measured on the saved grids; regions: {", ".join(REGION_NAMES.values())});
montage.png. Use them to test and demonstrate the pipeline; results on them say nothing about patients.

Parameters:
{json.dumps(config, indent=2, default=str)}
"""


def plan_visits(
    rng: np.random.Generator,
    subjects: pd.DataFrame,
    visit_interval_years: Sequence[float],
    other_pathology_fraction: float,
    sites: Mapping[str, Site],
    models: Mapping[str, Any],
    *,
    seed: int,
    resolution_mm: float,
    template_resolution: int,
) -> tuple[pd.DataFrame, list[VisitJob], pd.DataFrame]:
    """Draw each subject's latent deviations and visits; return the visit table, one render job per visit
    and the generating parameters per visit (target WMH per region, atrophy factors)."""
    latents = [draw_lesion_latents(rng) for _ in range(len(subjects))]
    z_atrophy = rng.normal(size=(len(subjects), 2))
    has_other = rng.uniform(size=len(subjects)) < other_pathology_fraction
    visits = visit_rows(rng, subjects, visit_interval_years)
    jobs, generating = [], []
    for row in visits.itertuples(index=False):
        index = row.subject_index
        targets = regional_targets(row.age, row.diagnosis, latents[index], models["lesion_load"])
        dilation, gm_loss = atrophy_factors(row.age, row.diagnosis, *z_atrophy[index], models["atrophy"])
        jobs.append(
            VisitJob(
                seed=seed, subject_index=index, visit_index=row.visit_index, site=sites[row.site], sex=row.sex,
                resolution_mm=resolution_mm, template_resolution=template_resolution, targets_ml=targets,
                ventricle_dilation_mm=dilation, ventricle_decay_mm=models["atrophy"].ventricle_decay_mm,
                gm_loss=gm_loss, has_other=bool(has_other[index]), anatomy=models["anatomy"],
                shapes=models["lesion_shapes"],
            )
        )  # fmt: skip
        generating.append(
            {
                "target_wmh_ml": sum(targets.values()),
                **{f"target_wmh_ml_{k}": v for k, v in targets.items()},
                "ventricle_dilation_mm": dilation,
                "gm_loss_fraction": gm_loss,
                "z_lesion_total": latents[index].z_total,
            }
        )
    return visits, jobs, pd.DataFrame(generating)


def _render_all(
    jobs: list[VisitJob], folders: list[Path], workers: int, progress: bool
) -> list[dict[str, Any]]:
    """Render and save every visit (a process pool when workers > 1), in job order, with a progress bar."""
    results: list[dict[str, Any]] = [{} for _ in jobs]
    with tqdm(total=len(jobs), desc="synthetic cohort", unit="visit", disable=not progress) as bar:
        if workers > 1 and len(jobs) > 1:
            with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
                futures = {
                    pool.submit(write_visit, job, f): i
                    for i, (job, f) in enumerate(zip(jobs, folders, strict=True))
                }
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    bar.update()
        else:
            for i, (job, folder) in enumerate(zip(jobs, folders, strict=True)):
                results[i] = write_visit(job, folder)
                bar.update()
    return results


def generate_cohort(
    out_dir: str | Path,
    *,
    n_subjects: int = 24,
    seed: int = 0,
    resolution_mm: float = 2.0,
    sites: Sequence[Mapping[str, Any] | Site] = DEFAULT_SITES,
    diagnosis_fractions: Mapping[str, float] = DEFAULT_DIAGNOSIS_FRACTIONS,
    age_mean: float = 73.0,
    age_sd: float = 7.0,
    age_range: Sequence[float] = (60.0, 90.0),
    female_fraction: float = 0.55,
    visit_weights: Sequence[float] = (0.65, 0.25, 0.1),
    visit_interval_years: Sequence[float] = (1.0, 2.5),
    test_fraction: float = 0.25,
    other_pathology_fraction: float = 0.15,
    anatomy: AnatomyModel | Mapping[str, Any] | None = None,
    atrophy: AtrophyModel | Mapping[str, Any] | None = None,
    lesion_load: LesionLoadModel | Mapping[str, Any] | None = None,
    lesion_shapes: LesionShapeModel | Mapping[str, Any] | None = None,
    template_resolution: int | None = None,
    workers: int = 2,
    montage_subjects: int = 4,
    progress: bool = True,
) -> pd.DataFrame:
    """Write a synthetic cohort under ``out_dir`` and return its manifest frame (absolute paths, plus
    ``synthetic`` = True). Site spacings are at 1 mm nominal resolution and are multiplied by
    ``resolution_mm``; ``template_resolution`` (1 or 2 mm) defaults to what the finest grid needs.
    The same seed and parameters give identical arrays."""
    out_dir = Path(out_dir).absolute()
    site_list = as_sites(sites)
    site_by_name = {s.name: s for s in site_list}
    models = {
        "anatomy": build_model(AnatomyModel, anatomy),
        "atrophy": build_model(AtrophyModel, atrophy),
        "lesion_load": build_model(LesionLoadModel, lesion_load),
        "lesion_shapes": build_model(LesionShapeModel, lesion_shapes),
    }
    unknown = sorted(set(diagnosis_fractions) - {"CN", "MCI", "AD"})
    if unknown or resolution_mm <= 0 or not 0 <= other_pathology_fraction <= 1:
        raise ValueError(
            f"generate_cohort: diagnoses must be CN/MCI/AD (got extra {unknown}), resolution_mm > 0 "
            f"(got {resolution_mm}), other_pathology_fraction in [0, 1] (got {other_pathology_fraction})"
        )
    if template_resolution is None:
        template_resolution = template_resolution_for(
            min(float(grid_shape(s, resolution_mm)[1].min()) for s in site_list)
        )

    rng = np.random.default_rng(seed)
    subjects = draw_subjects(
        rng, n_subjects, {s.name: s.weight for s in site_list}, diagnosis_fractions, age_mean, age_sd,
        age_range, female_fraction, visit_weights, test_fraction,
    )  # fmt: skip
    visits, jobs, generating = plan_visits(
        rng, subjects, visit_interval_years, other_pathology_fraction, site_by_name, models,
        seed=seed, resolution_mm=resolution_mm, template_resolution=template_resolution,
    )  # fmt: skip
    folders = [out_dir / row.subject_id / row.session for row in visits.itertuples()]
    load_template(template_resolution)  # once here: forked workers inherit it
    results = _render_all(jobs, folders, workers, progress)

    scanner = {s.name: s.scanner for s in site_list}
    manifest = pd.DataFrame(
        {
            "subject_id": visits["subject_id"],
            "session": visits["session"],
            "site": visits["site"],
            "split": visits["split"],
            **{key: [r[key] for r in results] for key in PATH_COLUMNS},
            "diagnosis": visits["diagnosis"],
            "age": visits["age"],
            "sex": visits["sex"],
            "scanner": visits["site"].map(scanner),
            "synthetic": True,
        }
    )
    keys = [
        "subject_id",
        "session",
        "site",
        "split",
        "diagnosis",
        "age",
        "sex",
        "visit_index",
        "years_since_baseline",
    ]
    measured = pd.DataFrame([{k: v for k, v in r.items() if k not in PATH_COLUMNS} for r in results])
    flags = pd.DataFrame({"synthetic": True, "has_other_pathology": [job.has_other for job in jobs]})
    truth = pd.concat([visits[keys], flags, generating, measured], axis=1)
    write_table(truth.round(4), out_dir / "truth.csv")
    config = {
        "n_subjects": n_subjects, "seed": seed, "resolution_mm": resolution_mm, "template_resolution": template_resolution,
        "sites": [asdict(s) for s in site_list], "diagnosis_fractions": dict(diagnosis_fractions), "age_mean": age_mean,
        "age_sd": age_sd, "age_range": list(age_range), "female_fraction": female_fraction,
        "visit_weights": list(visit_weights), "visit_interval_years": list(visit_interval_years),
        "test_fraction": test_fraction, "other_pathology_fraction": other_pathology_fraction,
        **{k: asdict(v) for k, v in models.items() if is_dataclass(v)},
    }  # fmt: skip
    with atomic_path(out_dir / "README.txt") as tmp:
        tmp.write_text(_readme(config, len(jobs)))
    if montage_subjects > 0:
        write_montage(manifest, out_dir / "montage.png", n=montage_subjects)
    log.info("synthetic cohort: %d subjects, %d visits in %s", n_subjects, len(jobs), out_dir)
    return manifest
