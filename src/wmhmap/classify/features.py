"""Feature sets: which table columns a model sees (exact names or regular expressions), optionally
with age and sex, volumes optionally divided by intracranial volume, WMH volumes optionally
log-transformed (their distribution is strongly right-skewed), plus the ``meta__`` columns
(site, ComBat covariates) that only the harmonisation step reads and then drops."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wmhmap.errors import InputError

__all__ = [
    "META_PREFIX",
    "FeatureSet",
    "feature_set_from_config",
    "select_columns",
    "encode_sex",
    "build_features",
]

META_PREFIX = "meta__"
"""Columns named ``meta__<name>`` travel with X to the harmonisation step, which removes them."""


@dataclass(frozen=True)
class FeatureSet:
    """A named set of columns: ``include`` patterns (full-match regex or exact names), demographics, ICV scaling,
    log transform of WMH volumes."""

    name: str
    label: str
    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    with_demographics: bool = False
    normalise_by_icv: bool = False
    log_wmh: bool = False


def feature_set_from_config(name: str, node: Mapping[str, Any], defaults: Mapping[str, Any]) -> FeatureSet:
    """A FeatureSet from its config node; ``with_demographics``/``normalise_by_icv``/``log_wmh`` left null take
    ``defaults``."""
    include = node.get("include")
    if not include:
        raise ValueError(f"feature set {name!r} has no 'include' patterns")
    if isinstance(include, str):
        include = [include]

    def flag(key: str) -> bool:
        value = node.get(key)
        return bool(defaults.get(key, False) if value is None else value)

    return FeatureSet(
        name=name,
        label=str(node.get("label") or name),
        include=tuple(str(p) for p in include),
        exclude=tuple(str(p) for p in (node.get("exclude") or ())),
        with_demographics=flag("with_demographics"),
        normalise_by_icv=flag("normalise_by_icv"),
        log_wmh=flag("log_wmh"),
    )


def select_columns(columns: Sequence[str], include: Sequence[str], exclude: Sequence[str] = ()) -> list[str]:
    """Columns (in table order) equal to or fully matching any ``include`` pattern and no ``exclude`` pattern."""

    def matches(column: str, patterns: Sequence[str]) -> bool:
        return any(column == p or re.fullmatch(p, column) for p in patterns)

    return [c for c in columns if matches(c, include) and not matches(c, exclude)]


def encode_sex(values: pd.Series, codes: Mapping[str, float], source: str | Path) -> pd.Series:
    """Sex as numbers via ``codes`` (e.g. F -> 0, M -> 1); numeric columns pass; unknown values are an error."""
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float)
    text = values.astype("string").str.strip()
    unknown = sorted(set(text.dropna()) - set(codes))
    if unknown:
        raise InputError(source, f"column {values.name!r} holds sex value(s) {unknown} not in sex_codes {dict(codes)}")
    return text.map(lambda v: np.nan if pd.isna(v) else float(codes[v])).astype(float)


def _numeric(frame: pd.DataFrame, columns: Sequence[str], source: str | Path) -> pd.DataFrame:
    bad = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise InputError(source, f"feature column(s) {bad} are not numeric")
    return frame[list(columns)].astype(float)


def build_features(
    frame: pd.DataFrame,
    feature_set: FeatureSet,
    *,
    columns: Mapping[str, str | None],
    sex_codes: Mapping[str, float],
    volume_pattern: str,
    log_pattern: str = "wmh_.*",
    meta: Sequence[str] = (),
    source: str | Path = "feature table",
) -> pd.DataFrame:
    """The model input X for ``feature_set``: selected columns (volumes / ICV if asked; then, if asked,
    ``log1p`` of the columns matching ``log_pattern``, in mL or, divided by ICV, in mL per litre of ICV),
    age and sex if asked, and ``meta__<role>`` columns for each role in ``meta`` (e.g. site, age, sex;
    see META_PREFIX).

    ``columns`` maps roles (age, sex, icv, site) to table column names.
    """
    selected = select_columns(list(frame.columns), feature_set.include, feature_set.exclude)
    reserved = {columns.get(r) for r in ("subject", "session", "diagnosis", "site")}
    selected = [c for c in selected if c not in reserved]
    if not selected:
        raise InputError(source, f"feature set {feature_set.name!r}: no column matches {list(feature_set.include)}")
    X = _numeric(frame, selected, source)
    if feature_set.normalise_by_icv:
        icv = _role_column(frame, columns, "icv", source, f"feature set {feature_set.name!r} (normalise_by_icv)")
        volumes = [c for c in selected if re.fullmatch(volume_pattern, c)]
        denominator = frame[icv].astype(float).where(frame[icv] > 0)
        X[volumes] = X[volumes].div(denominator, axis=0)
    if feature_set.log_wmh:
        logged = [c for c in selected if re.fullmatch(log_pattern, c)]
        values = X[logged] * (1000.0 if feature_set.normalise_by_icv else 1.0)
        bad = [c for c in logged if (values[c] < 0).any()]
        if bad:
            raise InputError(source, f"feature set {feature_set.name!r} (log_wmh): negative volumes in {bad}")
        X[logged] = np.log1p(values)
    if feature_set.with_demographics:
        for role in ("age", "sex"):
            column = _role_column(frame, columns, role, source, f"feature set {feature_set.name!r} (with_demographics)")
            if column not in X.columns:
                X[column] = _role_values(frame, column, role, sex_codes, source)
    for role in meta:
        column = _role_column(frame, columns, role, source, "harmonisation")
        values = frame[column] if role == "site" else _role_values(frame, column, role, sex_codes, source)
        X[f"{META_PREFIX}{role}"] = values.to_numpy()
    return X


def _role_column(frame: pd.DataFrame, columns: Mapping[str, str | None], role: str, source: str | Path, why: str) -> str:
    column = columns.get(role)
    if not column:
        raise InputError(source, f"{why} needs columns.{role}, which is not set")
    if column not in frame.columns:
        raise InputError(source, f"{why} needs the {role} column {column!r}, which the table lacks")
    return column


def _role_values(frame: pd.DataFrame, column: str, role: str, sex_codes: Mapping[str, float], source: str | Path) -> pd.Series:
    if role == "sex":
        return encode_sex(frame[column], sex_codes, source)
    return _numeric(frame, [column], source)[column]
