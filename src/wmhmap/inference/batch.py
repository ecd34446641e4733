"""Batch prediction over a manifest: skip what is done, write atomically, continue past bad subjects."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from wmhmap.data.nifti import load_mask, voxel_volume_ml
from wmhmap.errors import WmhmapError
from wmhmap.inference.predictor import Predictor
from wmhmap.io.atomic import save_nifti, write_table

__all__ = ["BatchResult", "prediction_paths", "predict_manifest"]

log = logging.getLogger(__name__)

MASK_NAME = "wmh_mask.nii.gz"
PROB_NAME = "wmh_prob.nii.gz"


@dataclass
class BatchResult:
    """Per-subject volumes of what was predicted (or found done) and the subjects that failed."""

    table: pd.DataFrame
    failures: list[tuple[str, str, str]] = field(default_factory=list)


def prediction_paths(out_dir: Path, subject_id: str, session: str) -> tuple[Path, Path]:
    """Where a subject's mask and probability map go: ``<out>/<subject_id>/<session>/``."""
    folder = out_dir / str(subject_id) / str(session)
    return folder / MASK_NAME, folder / PROB_NAME


def predict_manifest(
    manifest: pd.DataFrame,
    predictor: Predictor,
    out_dir: str | Path,
    overwrite: bool = False,
    save_probability: bool = True,
    progress: bool = True,
) -> BatchResult:
    """Predict every row into ``out_dir`` and write ``predictions.csv`` (subject_id, session, mask, volume)."""
    out_dir = Path(out_dir)
    rows, failures = [], []
    for row in tqdm(manifest.to_dict("records"), desc="predict", unit="subject", disable=not progress):
        sid, ses = str(row["subject_id"]), str(row["session"])
        mask_path, prob_path = prediction_paths(out_dir, sid, ses)
        done = mask_path.is_file() and (prob_path.is_file() or not save_probability)
        try:
            if done and not overwrite:
                mask = load_mask(mask_path, allow_empty=True)
                volume = float(mask.get_fdata().sum()) * voxel_volume_ml(mask)
                status = "skipped (done)"
            else:
                prediction = predictor.predict(row)
                if save_probability:
                    save_nifti(prediction.probability, prob_path)
                save_nifti(prediction.mask, mask_path)
                volume, status = prediction.volume_ml, "predicted"
        except (WmhmapError, ValueError, OSError) as err:
            log.error("%s/%s failed: %s", sid, ses, err)
            failures.append((sid, ses, str(err)))
            continue
        rows.append(
            {
                "subject_id": sid,
                "session": ses,
                "site": row.get("site"),
                "mask": os.path.relpath(mask_path, out_dir),
                "probability": os.path.relpath(prob_path, out_dir) if save_probability else None,
                "predicted_wmh_ml": round(volume, 4),
                "status": status,
            }
        )
    table = pd.DataFrame(rows, columns=["subject_id", "session", "site", "mask", "probability",
                                        "predicted_wmh_ml", "status"])
    write_table(table, out_dir / "predictions.csv")
    if failures:
        write_table(pd.DataFrame(failures, columns=["subject_id", "session", "error"]), out_dir / "failures.csv")
    return BatchResult(table, failures)
