"""The classification input: read a wide feature table, map diagnoses to labels, keep one visit per
subject, and define binary tasks ("CN_vs_AD": negative CN, positive AD)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wmhmap.errors import InputError

__all__ = ["Task", "read_feature_table", "require_columns", "map_labels", "select_visits", "parse_task", "task_rows"]


def read_feature_table(path: str | Path) -> pd.DataFrame:
    """A feature table from CSV, TSV or Parquet; a clear error when missing, unreadable or empty."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "feature table not found")
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",")
    except Exception as exc:  # noqa: BLE001 - any parser failure becomes one clear message
        raise InputError(path, f"cannot read the feature table ({exc})") from exc
    if frame.empty:
        raise InputError(path, "feature table has no rows")
    return frame


def require_columns(frame: pd.DataFrame, columns: Sequence[str], source: str | Path, why: str) -> None:
    """Raise InputError naming every column of ``columns`` missing from ``frame``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(source, f"missing column(s) {missing} needed for {why}; columns are {list(frame.columns)}")


def map_labels(values: pd.Series, mapping: Mapping[str, Any] | None) -> pd.Series:
    """Diagnosis labels as strings: values listed in ``mapping`` are renamed (to None = dropped), others kept."""
    mapping = dict(mapping or {})
    labels = values.map(lambda v: mapping[str(v)] if str(v) in mapping else v)
    labels = labels.where(labels.notna() & (labels.astype(str) != "nan"), None)
    return labels.map(lambda v: None if v is None else str(v))


def select_visits(frame: pd.DataFrame, subject: str, session: str | None, visits: str) -> pd.DataFrame:
    """Every visit (``all``) or each subject's baseline (``baseline``: first session in sort order)."""
    if visits == "all":
        return frame.reset_index(drop=True)
    if visits != "baseline":
        raise ValueError(f"visits must be 'baseline' or 'all', got {visits!r}")
    if session is None:
        if frame[subject].duplicated().any():
            raise ValueError(f"several rows per {subject!r} but no session column to choose the baseline visit")
        return frame.reset_index(drop=True)
    ordered = frame.sort_values([subject, session], kind="stable")
    return ordered.drop_duplicates(subject, keep="first").sort_index().reset_index(drop=True)


@dataclass(frozen=True)
class Task:
    """A binary task: rows labelled in ``negative`` are 0, in ``positive`` are 1 (``rest`` = every other label)."""

    name: str
    negative: tuple[str, ...]
    positive: tuple[str, ...]


def parse_task(spec: str | Mapping[str, Any], labels: Sequence[str]) -> Task:
    """A task from ``"A_vs_B"`` (positive = B; ``A+B`` merges labels; ``rest`` = all other labels) or a
    mapping ``{name, negative: [...], positive: [...]}``."""
    present = sorted(set(labels))
    if isinstance(spec, str):
        parts = re.split(r"_vs_", spec)
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"task {spec!r} is not of the form <negative>_vs_<positive> (e.g. CN_vs_AD)")
        name, negative, positive = spec, parts[0].split("+"), parts[1].split("+")
    else:
        name = str(spec.get("name") or f"{'+'.join(spec['negative'])}_vs_{'+'.join(spec['positive'])}")
        negative, positive = [str(v) for v in spec["negative"]], [str(v) for v in spec["positive"]]
    if negative == ["rest"] and positive == ["rest"]:
        raise ValueError(f"task {name!r}: at most one side can be 'rest'")
    if negative == ["rest"]:
        negative = [lab for lab in present if lab not in positive]
    if positive == ["rest"]:
        positive = [lab for lab in present if lab not in negative]
    overlap = set(negative) & set(positive)
    if overlap:
        raise ValueError(f"task {name!r}: label(s) {sorted(overlap)} on both sides")
    return Task(name, tuple(negative), tuple(positive))


def task_rows(labels: pd.Series, task: Task) -> tuple[np.ndarray, np.ndarray]:
    """Row positions of ``labels`` in the task and their 0/1 targets (1 = positive class)."""
    values = labels.to_numpy(dtype=object)
    in_negative = np.isin(values, task.negative)
    in_positive = np.isin(values, task.positive)
    rows = np.flatnonzero(in_negative | in_positive)
    return rows, in_positive[rows].astype(int)
