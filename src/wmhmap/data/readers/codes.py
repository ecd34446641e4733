"""Map a cohort table's own codes (diagnosis, sex, age) to the manifest's values, reporting every unknown code."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from wmhmap.errors import InputError

__all__ = ["DIAGNOSIS_MAP", "SEX_MAP", "map_codes", "parse_numbers", "demographics"]

DIAGNOSIS_MAP: dict[str, str | None] = {
    "CN": "CN",
    "NL": "CN",
    "SMC": "CN",
    "MCI": "MCI",
    "EMCI": "MCI",
    "LMCI": "MCI",
    "AD": "AD",
    "Dementia": "AD",
}
"""ADNI's codes (DX, DX_bl) to CN/MCI/AD: subjective memory complaint counts as CN, early/late MCI as MCI."""

SEX_MAP: dict[str, str | None] = {"M": "M", "Male": "M", "F": "F", "Female": "F"}
"""ADNI's PTGENDER (Male/Female) and BIDS's M/F (any case) to M/F."""

_BLANK = {"", "n/a", "na", "nan", "none"}


def _blank(value: object) -> bool:
    return (pd.api.types.is_scalar(value) and bool(pd.isna(value))) or str(value).strip().lower() in _BLANK


def map_codes(
    values: pd.Series, mapping: Mapping[object, str | None], what: str, source: str | Path
) -> pd.Series:
    """Map raw codes to manifest values (case-insensitive); blanks and codes mapped to null stay empty.

    Unknown codes raise :class:`InputError` naming ``source`` and every unknown code with its count,
    so the user can add them to the mapping in one go.
    """
    lookup = {str(key).strip().lower(): target for key, target in mapping.items()}
    out = []
    unknown: dict[str, int] = {}
    for value in values:
        if _blank(value):
            out.append(pd.NA)
            continue
        key = str(value).strip().lower()
        if key not in lookup:
            unknown[str(value).strip()] = unknown.get(str(value).strip(), 0) + 1
            out.append(pd.NA)
            continue
        target = lookup[key]
        out.append(pd.NA if target is None else str(target))
    if unknown:
        listed = ", ".join(f"'{code}' ({count} row(s))" for code, count in sorted(unknown.items()))
        known = ", ".join(f"{key}->{target}" for key, target in mapping.items())
        raise InputError(
            source, f"unknown {what} code(s) {listed}; known codes: {known} (extend the {what} map)"
        )
    return pd.Series(out, index=values.index, dtype="object")


def parse_numbers(values: pd.Series, what: str, source: str | Path) -> pd.Series:
    """Parse a column of numbers (blank -> NaN); any other text raises :class:`InputError` listing the values."""
    numbers = pd.to_numeric(values.where(~values.map(_blank)), errors="coerce")
    bad = values[numbers.isna() & ~values.map(_blank)]
    if len(bad):
        listed = ", ".join(sorted({repr(str(v)) for v in bad}))
        raise InputError(source, f"{what} column holds non-numeric value(s) {listed} in {len(bad)} row(s)")
    return numbers.astype(float)


def demographics(
    frame: pd.DataFrame,
    columns: Mapping[str, str | None],
    source: str | Path,
    diagnosis_map: Mapping[object, str | None] | None = None,
    sex_map: Mapping[object, str | None] | None = None,
) -> pd.DataFrame:
    """Diagnosis, age and sex of each row of ``frame`` from the columns named in ``columns`` (None: empty)."""
    out = pd.DataFrame(index=frame.index)
    maps = {"diagnosis": DIAGNOSIS_MAP if diagnosis_map is None else diagnosis_map}
    maps["sex"] = SEX_MAP if sex_map is None else sex_map
    for field, mapping in maps.items():
        column = columns.get(field)
        out[field] = map_codes(frame[column], mapping, field, source) if column else pd.NA
    column = columns.get("age")
    out["age"] = parse_numbers(frame[column], column, source) if column else float("nan")
    return out
