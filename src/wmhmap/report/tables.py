"""Evaluation and classification run directories as report tables: the evaluate stage's summary with
its volume agreement, and the classify stage's AUC summary and paper-layout results."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from wmhmap.errors import InputError

__all__ = ["read_csv", "evaluation_table", "classification_table", "paper_tables"]

_EVAL_METRICS = ("dice", "hd95", "avd", "recall", "f1", "reference_ml", "prediction_ml")
_AGREEMENT = ("pearson_r", "spearman_rho", "icc2_1", "icc3_1", "ba_mean_difference", "ba_lower_limit", "ba_upper_limit")
_CLASSIFY = ("task", "feature_set", "label", "n", "n_positive", "auc", "auc_ci_low", "auc_ci_high",
             "balanced_accuracy", "sensitivity", "specificity")


def read_csv(path: str | Path, required: tuple[str, ...] = ()) -> pd.DataFrame:
    """A CSV table with the named columns, or an error naming the file and what is missing."""
    path = Path(path)
    try:
        frame = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InputError(path, f"cannot read the table ({error})") from error
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(path, f"missing column(s) {missing}")
    return frame


def evaluation_table(runs: Mapping[str, Path]) -> pd.DataFrame:
    """One row per evaluate run and summary group (all, per site, per lesion-load band): the number of
    scans and the mean of each challenge metric; the ``all`` rows carry the volume agreement."""
    frames = []
    for label, run_dir in runs.items():
        summary = read_csv(run_dir / "summary.csv", ("grouping", "group", "n"))
        keep = ["grouping", "group", "n", *[f"{m}_mean" for m in _EVAL_METRICS if f"{m}_mean" in summary.columns]]
        table = summary[keep].rename(columns=lambda c: c.removesuffix("_mean"))
        agreement_path = run_dir / "agreement.csv"
        if agreement_path.is_file():
            agreement = read_csv(agreement_path, ("group",))
            overall = agreement[agreement["group"] == "all"]
            if not overall.empty:
                for column in (c for c in _AGREEMENT if c in overall.columns):
                    table.loc[table["grouping"] == "all", f"volume {column}"] = overall[column].iloc[0]
        frames.append(table.assign(run=label))
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames, ignore_index=True)
    return table[["run", *[c for c in table.columns if c != "run"]]]


def classification_table(runs: Mapping[str, Path]) -> pd.DataFrame:
    """One row per classify run, task and feature set: AUC with its interval and the other scores."""
    frames = []
    for label, run_dir in runs.items():
        summary = read_csv(run_dir / "summary.csv", ("task", "feature_set", "auc"))
        frames.append(summary[[c for c in _CLASSIFY if c in summary.columns]].assign(run=label))
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames, ignore_index=True)
    return table[["run", *[c for c in table.columns if c != "run"]]]


def paper_tables(runs: Mapping[str, Path]) -> dict[str, pd.DataFrame]:
    """Each classify run's ``results.csv`` (rows feature sets, columns tasks, cells "AUC [CI]")."""
    return {label: read_csv(run_dir / "results.csv") for label, run_dir in runs.items()}
