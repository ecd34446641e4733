"""The evaluate stage: score every prediction against its reference, summarise per site and lesion load,
measure volume agreement, plot it, and log it all to W&B."""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig
from tqdm import tqdm

from wmhmap.data.manifest import read_manifest
from wmhmap.errors import ManifestError, WmhmapError
from wmhmap.evaluation.agreement import volume_agreement
from wmhmap.evaluation.pair import METRICS, EmptyMaskWarning, evaluate_pair
from wmhmap.evaluation.plots import bland_altman_plot, volume_scatter_plot
from wmhmap.evaluation.predictions import match_predictions
from wmhmap.evaluation.report import lesion_load_band, summarise, summary_markdown
from wmhmap.io.atomic import atomic_path, write_table
from wmhmap.tracking import log_figure, log_table, tracked_run

__all__ = ["EvaluationResult", "reference_rows", "score_pairs", "evaluate_predictions", "run_evaluate"]

log = logging.getLogger(__name__)

PER_SUBJECT_COLUMNS: tuple[str, ...] = (
    "subject_id", "session", "site", "lesion_load", *METRICS[:4], "precision", "f1",
    "reference_ml", "prediction_ml", "reference_lesions", "prediction_lesions", "reference", "prediction", "notes",
)
SKIPPED_COLUMNS: tuple[str, ...] = ("subject_id", "session", "site", "reason")


@dataclass
class EvaluationResult:
    """What the evaluate stage produced: tables (also written as files) and the paths of every output."""

    per_subject: pd.DataFrame
    summary: pd.DataFrame
    agreement: pd.DataFrame
    skipped: pd.DataFrame
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def mean_dice(self) -> float:
        """Mean Dice over the evaluated subjects (NaN values left out)."""
        return float(self.per_subject["dice"].mean())


def reference_rows(manifest: str | Path, splits: Sequence[str] | None = None) -> pd.DataFrame:
    """Manifest rows that have a ``wmh`` reference (optionally only some splits); a missing reference file is an error."""
    frame = read_manifest(manifest, check_files=False)
    if splits:
        frame = frame[frame["split"].isin(list(splits))]
    frame = frame[frame["wmh"].notna()].reset_index(drop=True)
    if frame.empty:
        raise ManifestError(manifest, [f"no row with a wmh reference{f' in splits {list(splits)}' if splits else ''}"])
    absent = [f"{r.subject_id}/{r.session}: wmh file not found: {r.wmh}" for r in frame.itertuples()
              if not Path(r.wmh).is_file()]
    if absent:
        raise ManifestError(manifest, absent)
    return frame


def _score_row(row: dict[str, Any], affine_atol: float) -> tuple[dict[str, Any], str | None]:
    """One subject's metrics row (empty-mask warnings go to its ``notes``) or, on bad input, the error message."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EmptyMaskWarning)
        try:
            scores = evaluate_pair(row["wmh"], row["prediction"], affine_atol=affine_atol)
        except WmhmapError as err:
            return row, str(err)
    notes = [str(w.message) for w in caught if issubclass(w.category, EmptyMaskWarning)]
    for other in (w for w in caught if not issubclass(w.category, EmptyMaskWarning)):
        warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    return {**row, **scores, "notes": "; ".join(notes)}, None


def score_pairs(pairs: pd.DataFrame, affine_atol: float = 1e-3, n_jobs: int = 1,
                progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score every (``wmh``, ``prediction``) row, in ``n_jobs`` processes; returns (scored rows, failures)."""
    rows = pairs.to_dict("records")
    score = functools.partial(_score_row, affine_atol=affine_atol)
    bar = functools.partial(tqdm, total=len(rows), desc="evaluate", unit="subject", disable=not progress)
    if n_jobs > 1 and len(rows) > 1:
        with ProcessPoolExecutor(max_workers=min(n_jobs, len(rows))) as pool:
            outcomes = list(bar(pool.map(score, rows)))
    else:
        outcomes = [score(row) for row in bar(rows)]
    scored, failures = [], []
    for row, error in outcomes:
        if error is None:
            scored.append(row)
            if row["notes"]:
                log.warning("%s/%s: %s", row["subject_id"], row["session"], row["notes"])
        else:
            log.error("%s/%s: %s", row["subject_id"], row["session"], error)
            failures.append({"subject_id": row["subject_id"], "session": row["session"], "site": row.get("site"),
                             "reason": error})
    return pd.DataFrame(scored), pd.DataFrame(failures, columns=list(SKIPPED_COLUMNS))


def _agreement_table(per_subject: pd.DataFrame) -> pd.DataFrame:
    """Volume agreement overall and per site (one row each)."""
    groups = [("all", per_subject)] + [(str(site), frame) for site, frame in per_subject.groupby("site", sort=True)]
    return pd.DataFrame([{"group": name, **volume_agreement(frame["reference_ml"].to_numpy(),
                                                           frame["prediction_ml"].to_numpy())}
                         for name, frame in groups])


def _agreement_note(overall: pd.Series) -> str:
    """One line of the overall agreement for the scatter plot."""
    return (f"n = {int(overall['n'])}, Pearson r = {overall['pearson_r']:.3f}, "
            f"ICC(2,1) = {overall['icc2_1']:.3f}")


def evaluate_predictions(
    manifest: str | Path,
    predictions: str | Path,
    out_dir: str | Path,
    splits: Sequence[str] | None = None,
    band_edges_ml: Sequence[float] = (0.0, 5.0, 15.0, float("inf")),
    band_names: Sequence[str] = ("low", "medium", "high"),
    strict: bool = False,
    affine_atol: float = 1e-3,
    n_jobs: int = 1,
    progress: bool = True,
) -> EvaluationResult:
    """Score the predictions in ``predictions`` against the manifest's ``wmh`` references; write into ``out_dir``.

    Writes ``per_subject.csv``, ``summary.csv`` / ``summary.md`` (overall, per site, per lesion-load
    band), ``agreement.csv``, ``skipped.csv`` and ``bland_altman.png`` / ``volume_scatter.png``.
    A reference without a prediction, or a pair that cannot be scored (e.g. grids differ), is listed
    in ``skipped.csv`` and left out, or raises :class:`WmhmapError` when ``strict``.
    """
    out_dir = Path(out_dir)
    references = reference_rows(manifest, splits)
    pairs, missing = match_predictions(references, predictions)
    if strict and len(missing):
        raise WmhmapError(f"{len(missing)} reference(s) have no prediction in {predictions} (strict=true):\n"
                          + missing.to_string(index=False))
    for row in missing.itertuples():
        log.warning("%s/%s skipped: %s", row.subject_id, row.session, row.reason)
    scored, failures = score_pairs(pairs, affine_atol=affine_atol, n_jobs=n_jobs, progress=progress)
    if strict and len(failures):
        raise WmhmapError(f"{len(failures)} pair(s) could not be scored (strict=true):\n" + failures.to_string(index=False))
    skipped = pd.concat([missing, failures], ignore_index=True) if len(failures) else missing
    if scored.empty:
        raise WmhmapError(f"none of the {len(references)} reference(s) in {manifest} could be scored "
                          f"against {predictions}:\n{skipped.to_string(index=False)}")
    scored["lesion_load"] = lesion_load_band(scored["reference_ml"], band_edges_ml, band_names).to_numpy()
    per_subject = scored.rename(columns={"wmh": "reference"})[list(PER_SUBJECT_COLUMNS)]
    summary = summarise(per_subject, by=("site", "lesion_load"))
    agreement = _agreement_table(per_subject)
    files = {
        "per_subject": write_table(per_subject, out_dir / "per_subject.csv"),
        "summary": write_table(summary, out_dir / "summary.csv"),
        "agreement": write_table(agreement, out_dir / "agreement.csv"),
        "skipped": write_table(skipped, out_dir / "skipped.csv"),
        "bland_altman": bland_altman_plot(per_subject["reference_ml"], per_subject["prediction_ml"],
                                          out_dir / "bland_altman.png", groups=per_subject["site"]),
        "volume_scatter": volume_scatter_plot(per_subject["reference_ml"], per_subject["prediction_ml"],
                                              out_dir / "volume_scatter.png", groups=per_subject["site"],
                                              note=_agreement_note(agreement.iloc[0])),
    }
    with atomic_path(out_dir / "summary.md") as tmp:
        tmp.write_text(summary_markdown(summary, agreement, skipped))
    files["summary_md"] = out_dir / "summary.md"
    return EvaluationResult(per_subject, summary, agreement, skipped, files)


def run_evaluate(cfg: DictConfig, run_dir: str | Path) -> EvaluationResult:
    """The stage behind ``wmhmap-evaluate``: :func:`evaluate_predictions` from config, tracked in W&B."""
    run_dir = Path(run_dir)
    with tracked_run(cfg.tracking, "evaluate", run_dir, cfg) as run:
        result = evaluate_predictions(
            manifest=cfg.manifest,
            predictions=cfg.predictions,
            out_dir=run_dir,
            splits=list(cfg.splits) if cfg.get("splits") else None,
            band_edges_ml=[float(e) for e in cfg.lesion_load.edges_ml],
            band_names=list(cfg.lesion_load.names),
            strict=bool(cfg.strict),
            affine_atol=float(cfg.affine_atol),
            n_jobs=int(cfg.n_jobs),
            progress=bool(cfg.progress),
        )
        for key in ("per_subject", "summary", "agreement", "skipped"):
            log_table(run, f"evaluate/{key}", getattr(result, key))
        for key in ("bland_altman", "volume_scatter"):
            log_figure(run, f"evaluate/{key}", result.files[key])
        overall = result.summary.iloc[0]
        run.summary.update({f"{m}_mean": overall[f"{m}_mean"] for m in METRICS})
        run.summary.update({f"volume_{k}": v for k, v in result.agreement.iloc[0].items() if k != "group"})
        run.summary["n_evaluated"] = len(result.per_subject)
        run.summary["n_skipped"] = len(result.skipped)
    print(result.files["summary_md"].read_text())
    print(f"outputs: {run_dir}")
    return result
