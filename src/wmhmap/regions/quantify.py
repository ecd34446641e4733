"""Per-subject quantification (regional WMH volumes in every scheme, brain-structure volumes,
registration QC) and the cohort tables: a long table (one row per subject x scheme x region) and a
wide feature table (one row per subject-visit) for classification."""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk
from tqdm import tqdm

from wmhmap.data.subject import load_subject
from wmhmap.errors import InputError, WmhmapError
from wmhmap.regions.atlas import load_label_image
from wmhmap.regions.qc import subject_overlay
from wmhmap.regions.reference import reference_anatomy
from wmhmap.regions.registration import (
    RegistrationResult,
    RegistrationSettings,
    TransformCache,
    prepare_template,
    propagate,
    register,
)
from wmhmap.regions.schemes import Scheme, SchemeContext, format_subject_path
from wmhmap.regions.subject import SubjectAnatomy, build_subject_anatomy
from wmhmap.regions.volumes import mask_volume_ml, regional_volumes
from wmhmap.structures.atlas import atlas_structure_volumes
from wmhmap.structures.fastsurfer import fastsurfer_volumes
from wmhmap.structures.freesurfer import freesurfer_volumes
from wmhmap.structures.synthseg import read_synthseg_volumes

__all__ = [
    "LONG_COLUMNS",
    "META_COLUMNS",
    "StructureSources",
    "SubjectResult",
    "Quantifier",
    "builtin_structure_volumes",
    "wide_table",
    "quantify_cohort",
]

log = logging.getLogger(__name__)

LONG_COLUMNS: tuple[str, ...] = (
    "subject_id", "session", "scheme", "region", "label", "wmh_ml", "region_ml",
    "wmh_fraction_of_region", "wmh_per_icv", "registration_ok",
)
META_COLUMNS: tuple[str, ...] = ("subject_id", "session", "site", "diagnosis", "age", "sex")
"""Manifest columns copied into the wide table, in this order, before icv_ml and wmh_total_ml."""


@dataclass(frozen=True)
class StructureSources:
    """Where brain-structure volumes come from besides the built-in tissue segmentation. Path patterns
    take ``{subject_id}`` and ``{session}``. Imported volumes replace built-in ones of the same name
    (and ``icv`` replaces the brain-mask ICV)."""

    atlas_labels: str | None = None
    atlas_template: str | None = None
    freesurfer: str | None = None
    synthseg: str | None = None
    synthseg_key: str = "{subject_id}"
    fastsurfer: str | None = None


@dataclass
class SubjectResult:
    """One subject-visit: long regional rows, structure volumes (mL, with source), registration QC rows."""

    subject_id: str
    session: str
    icv_ml: float
    wmh_total_ml: float
    registration_ok: bool
    regions: pd.DataFrame
    structures: dict[str, tuple[float, str]]
    registrations: pd.DataFrame
    overlay: Path | None = None


def builtin_structure_volumes(anatomy: SubjectAnatomy) -> dict[str, float]:
    """GM, WM, CSF, brain (GM + WM) and lateral ventricles (mL) from the subject's tissue segmentation;
    empty when the segmentation is missing (failed reference registration)."""
    if anatomy.tissue is None:
        return {}
    volumes = anatomy.tissue.volumes_ml(anatomy.voxel_ml)
    volumes["brain"] = volumes["gm"] + volumes["wm"]
    volumes["lateral_ventricles"] = mask_volume_ml(anatomy.ventricles, anatomy.voxel_ml)
    return volumes


def _registration_row(target: str, result: RegistrationResult) -> dict:
    return {"target": target, "method": result.method, "metric": result.metric, "determinant": result.determinant,
            "ok": result.ok, "reason": result.reason, "cached": result.cached}


@dataclass
class Quantifier:
    """Everything needed to quantify subjects: the schemes (by name), registration settings, the transform
    cache folder, the built-in reference resolution, structure sources and where QC figures go."""

    schemes: Mapping[str, Scheme]
    registration: RegistrationSettings = field(default_factory=RegistrationSettings)
    cache_dir: Path | None = None
    reference_resolution: int = 1
    tissue_iterations: int = 20
    structures: StructureSources = field(default_factory=StructureSources)
    on_grid_mismatch: str = "error"
    figure_dir: Path | None = None
    overlay_scheme: str | None = None
    _context: SchemeContext | None = field(default=None, init=False, repr=False)
    _structure_atlas: tuple | None = field(default=None, init=False, repr=False)
    _synthseg: pd.DataFrame | None = field(default=None, init=False, repr=False)

    def prepare(self) -> SchemeContext:
        """Build the reference, load atlases and import tables once (idempotent)."""
        if self._context is None:
            cache = None if self.cache_dir is None else TransformCache(Path(self.cache_dir) / "transforms")
            reference = reference_anatomy(self.reference_resolution, self.cache_dir)
            self._context = SchemeContext(self.registration, cache, reference,
                                          prepare_template(reference.template, self.registration))
            for scheme in self.schemes.values():
                scheme.prepare(self._context)
            sources = self.structures
            if sources.atlas_labels is not None:
                if sources.atlas_template is None:
                    raise ValueError("structures.atlas_labels needs structures.atlas_template")
                self._structure_atlas = (load_label_image(sources.atlas_labels),
                                         self._context.template(sources.atlas_template))
            if sources.synthseg is not None and "{" not in sources.synthseg:
                self._synthseg = read_synthseg_volumes(sources.synthseg)
        return self._context

    def _imported_volumes(self, anatomy: SubjectAnatomy) -> tuple[dict[str, float], str]:
        sources = self.structures
        if sources.freesurfer is not None:
            return freesurfer_volumes(format_subject_path(sources.freesurfer, anatomy)), "freesurfer"
        if sources.fastsurfer is not None:
            return fastsurfer_volumes(format_subject_path(sources.fastsurfer, anatomy)), "fastsurfer"
        if sources.synthseg is not None:
            table = self._synthseg
            if table is None:
                table = read_synthseg_volumes(format_subject_path(sources.synthseg, anatomy))
            key = sources.synthseg_key.format(subject_id=anatomy.subject_id, session=anatomy.session)
            if len(table) == 1:
                row = table.iloc[0]
            elif key in table.index:
                row = table.loc[key]
            else:
                raise InputError(sources.synthseg, f"no row for subject {key!r} in the SynthSeg table")
            return {k: float(v) for k, v in row.items()}, "synthseg"
        return {}, ""

    def _structures(self, anatomy: SubjectAnatomy, context: SchemeContext) -> tuple[dict[str, tuple[float, str]], list[dict]]:
        volumes = {name: (value, "tissue") for name, value in builtin_structure_volumes(anatomy).items()}
        rows = []
        if self._structure_atlas is not None and anatomy.tissue is not None:
            labels_image, template = self._structure_atlas
            result = register(anatomy.image, template, context.settings, anatomy.brain, context.cache)
            rows.append(_registration_row("structures_atlas", result))
            if result.ok:
                labels = propagate(result, labels_image, anatomy.grid, True)
                for name, value in atlas_structure_volumes(labels, anatomy.tissue, anatomy.voxel_ml).items():
                    volumes.setdefault(name, (value, "atlas"))
        imported, source = self._imported_volumes(anatomy)
        volumes.update({name: (value, source) for name, value in imported.items()})
        return volumes, rows

    def _regional_tables(self, anatomy: SubjectAnatomy, icv: float, context: SchemeContext,
                         registration_rows: list[dict]) -> tuple[list[pd.DataFrame], tuple[str, np.ndarray] | None]:
        """One volume table per scheme (NaN values where a registration failed QC), appending each
        scheme's own registration to ``registration_rows``; plus the labels chosen for the overlay."""
        reference_ok = anatomy.registration.ok
        frames, overlay_labels = [], None
        for name, scheme in self.schemes.items():
            parcellation = scheme.parcellate(anatomy, context) if reference_ok else None
            labels = parcellation.labels if parcellation else np.zeros(anatomy.wmh.shape, np.int32)
            names = parcellation.names if parcellation else scheme.region_names(context)
            table = regional_volumes(anatomy.wmh, labels, names, anatomy.voxel_ml, icv)
            ok = reference_ok
            own = parcellation.registration if parcellation is not None else None
            if own is not None and own is not anatomy.registration:
                registration_rows.append(_registration_row(name, own))
                ok = ok and own.ok
            if not ok:
                table.loc[:, ["wmh_ml", "region_ml", "wmh_fraction_of_region", "wmh_per_icv"]] = math.nan
            table.insert(0, "scheme", name)
            table["registration_ok"] = ok
            frames.append(table)
            if parcellation is not None and (name == self.overlay_scheme or overlay_labels is None):
                overlay_labels = (name, labels)
        return frames, overlay_labels

    def quantify(self, row: Mapping, mask: str | Path, figure: bool = False) -> SubjectResult:
        """Quantify one manifest row with its WMH ``mask`` (label 1 = WMH; 2 and above ignored)."""
        context = self.prepare()
        row = dict(row)
        row["wmh"] = str(mask)
        images = load_subject(row, on_mismatch=self.on_grid_mismatch)
        wmh = np.asarray(images.wmh.dataobj) == 1
        anatomy = build_subject_anatomy(images, wmh, context.reference, context.reference_template, self.registration,
                                        context.cache, self.tissue_iterations)
        voxel_ml = anatomy.voxel_ml
        wmh_total = mask_volume_ml(wmh, voxel_ml)
        reference_ok = anatomy.registration.ok
        structures, registration_rows = self._structures(anatomy, context)
        icv, icv_source = (mask_volume_ml(anatomy.brain, voxel_ml), "brain_mask") \
            if (reference_ok or anatomy.brain_mask_given) else (math.nan, "")
        if "icv" in structures:
            icv, icv_source = structures.pop("icv")
        structures["icv"] = (icv, icv_source)
        registration_rows.insert(0, _registration_row("reference", anatomy.registration))

        frames, overlay_labels = self._regional_tables(anatomy, icv, context, registration_rows)
        regions = pd.concat(frames, ignore_index=True)
        regions.insert(0, "session", anatomy.session)
        regions.insert(0, "subject_id", anatomy.subject_id)
        registrations = pd.DataFrame(registration_rows)
        registrations.insert(0, "session", anatomy.session)
        registrations.insert(0, "subject_id", anatomy.subject_id)
        overlay = None
        if figure and self.figure_dir is not None:
            scheme_name, labels = overlay_labels if overlay_labels else ("none", np.zeros(wmh.shape, np.int32))
            overlay = subject_overlay(
                np.asarray(images.flair.dataobj), labels, wmh,
                Path(self.figure_dir) / f"{anatomy.subject_id}_{anatomy.session}.png",
                title=f"{anatomy.subject_id}/{anatomy.session}: {scheme_name} regions, WMH {wmh_total:.1f} mL",
            )
        return SubjectResult(anatomy.subject_id, anatomy.session, icv, wmh_total, bool(registrations["ok"].all()),
                             regions[list(LONG_COLUMNS)], structures, registrations, overlay)


def wide_table(manifest: pd.DataFrame, results: Iterable[SubjectResult]) -> pd.DataFrame:
    """One row per subject-visit: subject_id, session, site, diagnosis, age, sex, icv_ml, wmh_total_ml,
    ``wmh_ml__<scheme>__<region>``, ``vol_ml__<structure>``, registration_ok (that order)."""
    meta = manifest.set_index(["subject_id", "session"])
    rows = []
    for result in results:
        info = meta.loc[(result.subject_id, result.session)]
        row = {"subject_id": result.subject_id, "session": result.session}
        row.update({c: info.get(c) for c in META_COLUMNS[2:]})
        row.update(icv_ml=result.icv_ml, wmh_total_ml=result.wmh_total_ml)
        for scheme, region, value in result.regions[["scheme", "region", "wmh_ml"]].itertuples(index=False):
            row[f"wmh_ml__{scheme}__{region}"] = value
        for name, (value, _source) in sorted(result.structures.items()):
            if name != "icv":
                row[f"vol_ml__{name}"] = value
        row["registration_ok"] = result.registration_ok
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    fixed = [*META_COLUMNS, "icv_ml", "wmh_total_ml"]
    regional = [c for c in frame.columns if c.startswith("wmh_ml__")]
    volumes = sorted(c for c in frame.columns if c.startswith("vol_ml__"))
    return frame[fixed + regional + volumes + ["registration_ok"]]


_WORKER: Quantifier | None = None
"""The quantifier of a pool worker process (set once by the pool initializer, so tasks carry only rows)."""


def _init_worker(quantifier: Quantifier, threads: int) -> None:
    global _WORKER
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    _WORKER = quantifier


def _run_in_worker(task: tuple[dict, str, bool]) -> SubjectResult:
    row, mask, figure = task
    return _WORKER.quantify(row, mask, figure)


def quantify_cohort(
    quantifier: Quantifier,
    manifest: pd.DataFrame,
    masks: list[str],
    workers: int = 1,
    figures: int = 0,
    progress: bool = True,
) -> tuple[list[SubjectResult], list[tuple[str, str, str]]]:
    """Quantify every manifest row (``masks[i]`` is row i's WMH mask); ``workers`` > 1 uses a process
    pool. The first ``figures`` subjects get an overlay PNG. Returns the results in manifest order and
    the failures (subject_id, session, error) of subjects that could not be read or processed."""
    quantifier.prepare()
    tasks = [(row, mask, i < figures) for i, (row, mask) in enumerate(zip(manifest.to_dict("records"), masks, strict=True))]
    results: dict[int, SubjectResult] = {}
    failures: list[tuple[str, str, str]] = []
    bar = tqdm(total=len(tasks), desc="quantify", unit="subject", disable=not progress)

    def record(index: int, outcome: SubjectResult | BaseException) -> None:
        row = tasks[index][0]
        if isinstance(outcome, BaseException):
            log.error("%s/%s failed: %s", row["subject_id"], row["session"], outcome)
            failures.append((str(row["subject_id"]), str(row["session"]), str(outcome)))
        else:
            results[index] = outcome
        bar.update(1)

    if workers <= 1 or len(tasks) <= 1:
        for index, task in enumerate(tasks):
            try:
                record(index, quantifier.quantify(*task))
            except (WmhmapError, ValueError, OSError) as err:
                record(index, err)
    else:
        threads = max(1, (os.cpu_count() or 1) // workers)
        # spawn, not fork: forking a process whose ITK and W&B threads are running can deadlock the child.
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_init_worker, initargs=(quantifier, threads)) as pool:
            futures = {pool.submit(_run_in_worker, task): index for index, task in enumerate(tasks)}
            for future in as_completed(futures):
                try:
                    record(futures[future], future.result())
                except (WmhmapError, ValueError, OSError) as err:
                    record(futures[future], err)
    bar.close()
    return [results[i] for i in sorted(results)], failures
