"""The quantify stage: read the manifest and masks named by the config, quantify every subject, write
the long and wide tables, QC tables and figures into the run directory and log them to W&B."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from wmhmap.data.manifest import read_manifest
from wmhmap.errors import ManifestError
from wmhmap.io.atomic import write_table
from wmhmap.regions.qc import cohort_bars
from wmhmap.regions.quantify import Quantifier, StructureSources, SubjectResult, quantify_cohort, wide_table
from wmhmap.regions.registration import RegistrationSettings
from wmhmap.tracking import log_figure, log_table, tracked_run

__all__ = ["PREDICTION_MASK", "resolve_masks", "build_quantifier", "structures_table", "run_quantify"]

log = logging.getLogger(__name__)

PREDICTION_MASK = "wmh_mask.nii.gz"


def resolve_masks(manifest: pd.DataFrame, masks: str, source: str | Path | None = None) -> list[str]:
    """The WMH mask of every manifest row: its ``wmh`` column for ``masks="reference"``, else from a
    predictions folder (``predictions.csv`` when present, else ``<sid>/<session>/wmh_mask.nii.gz``).
    Every missing mask is listed in one :class:`ManifestError`."""
    problems, paths = [], []
    if masks == "reference":
        for i, row in manifest.iterrows():
            if pd.isna(row.get("wmh")):
                problems.append(f"row {i + 2} ({row['subject_id']}/{row['session']}): no wmh mask (masks=reference)")
            paths.append(str(row.get("wmh")))
    else:
        folder = Path(masks)
        listed: dict[tuple[str, str], Path] = {}
        table_path = folder / "predictions.csv"
        if table_path.is_file():
            table = pd.read_csv(table_path, dtype={"subject_id": str, "session": str})
            if not {"subject_id", "session", "mask"} <= set(table.columns):
                raise ManifestError(table_path, ["predictions.csv needs columns subject_id, session, mask"])
            listed = {(str(r.subject_id), str(r.session)): folder / str(r.mask) for r in table.itertuples()}
        for i, row in manifest.iterrows():
            key = (str(row["subject_id"]), str(row["session"]))
            path = listed.get(key, folder / key[0] / key[1] / PREDICTION_MASK)
            if not path.is_file():
                problems.append(f"row {i + 2} ({key[0]}/{key[1]}): predicted mask not found: {path}")
            paths.append(str(path))
    if problems:
        raise ManifestError(source, problems)
    return paths


def build_quantifier(cfg: DictConfig, figure_dir: Path | None) -> Quantifier:
    """A :class:`Quantifier` from the stage config (schemes instantiated by their ``_target_``)."""
    schemes = {name: instantiate(scheme) for name, scheme in cfg.schemes.items()}
    registration = RegistrationSettings(**OmegaConf.to_container(cfg.registration, resolve=True))
    structures = StructureSources(**OmegaConf.to_container(cfg.structures, resolve=True))
    return Quantifier(
        schemes=schemes,
        registration=registration,
        cache_dir=Path(cfg.cache_dir),
        reference_resolution=int(cfg.reference_resolution),
        tissue_iterations=int(cfg.tissue_iterations),
        structures=structures,
        on_grid_mismatch=str(cfg.on_grid_mismatch),
        figure_dir=figure_dir,
        overlay_scheme=cfg.qc.get("overlay_scheme"),
    )


def structures_table(results: list[SubjectResult]) -> pd.DataFrame:
    """Long table of structure volumes: subject_id, session, structure, volume_ml, source."""
    rows = [
        {"subject_id": r.subject_id, "session": r.session, "structure": name, "volume_ml": value, "source": source}
        for r in results
        for name, (value, source) in sorted(r.structures.items())
    ]
    return pd.DataFrame(rows, columns=["subject_id", "session", "structure", "volume_ml", "source"])


def _write_both(frame: pd.DataFrame, stem: Path) -> None:
    write_table(frame, stem.with_suffix(".csv"))
    write_table(frame, stem.with_suffix(".parquet"))


def run_quantify(cfg: DictConfig, run_dir: Path) -> int:
    """Run the stage; returns the number of subjects quantified. Raises SystemExit(1) after writing the
    tables when some subjects failed (listed in failures.csv)."""
    run_dir = Path(run_dir)
    with tracked_run(cfg.tracking, "quantify", run_dir, cfg) as run:
        manifest = read_manifest(cfg.manifest)
        if cfg.get("splits"):
            manifest = manifest[manifest["split"].isin(list(cfg.splits))].reset_index(drop=True)
        masks = resolve_masks(manifest, str(cfg.masks), cfg.manifest)
        quantifier = build_quantifier(cfg, run_dir / "qc" / "subjects")
        log.info("quantifying %d subject(s) with schemes %s", len(manifest), ", ".join(quantifier.schemes))
        results, failures = quantify_cohort(quantifier, manifest, masks, workers=int(cfg.workers),
                                            figures=int(cfg.qc.subject_figures))
        long = pd.concat([r.regions for r in results], ignore_index=True) if results else pd.DataFrame()
        wide = wide_table(manifest, results)
        structures = structures_table(results)
        registrations = pd.concat([r.registrations for r in results], ignore_index=True) if results else pd.DataFrame()
        _write_both(long, run_dir / "regional_wmh_long")
        _write_both(wide, run_dir / "features")
        write_table(structures, run_dir / "structures_long.csv")
        write_table(registrations, run_dir / "registration_qc.csv")
        if failures:
            write_table(pd.DataFrame(failures, columns=["subject_id", "session", "error"]), run_dir / "failures.csv")
        for key, frame in (("regional_wmh_long", long), ("features", wide),
                           ("structures", structures), ("registration_qc", registrations)):
            log_table(run, key, frame)
        if not long.empty:
            log_figure(run, "regional_wmh_bars", cohort_bars(long, run_dir / "qc" / "regional_wmh_bars.png"))
        for result in results:
            if result.overlay is not None:
                log_figure(run, f"overlay/{result.subject_id}_{result.session}", result.overlay)
        flagged = [f"{r.subject_id}/{r.session}" for r in results if not r.registration_ok]
        run.summary.update({"n_quantified": len(results), "n_failed": len(failures),
                            "n_registration_flagged": len(flagged)})
    print(f"quantified {len(results)} subject(s); tables in {run_dir}")
    if flagged:
        print(f"registration QC flagged {len(flagged)} subject(s) (regional values NaN): {', '.join(flagged)}")
    if failures:
        lines = "\n".join(f"  {sid}/{ses}: {err}" for sid, ses, err in failures)
        print(f"{len(failures)} subject(s) failed (see failures.csv):\n{lines}")
        raise SystemExit(1)
    return len(results)
