"""The manifest: the one table every stage reads, one row per subject-visit (see docs in README).

Paths are stored relative to the manifest file and resolved to absolute paths on reading.
Validation collects every problem (all offending rows) before raising one :class:`ManifestError`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from wmhmap.errors import ManifestError
from wmhmap.io.atomic import write_table

__all__ = [
    "REQUIRED_COLUMNS",
    "OPTIONAL_COLUMNS",
    "PATH_COLUMNS",
    "DIAGNOSES",
    "SPLITS",
    "validate_manifest",
    "read_manifest",
    "write_manifest",
]

REQUIRED_COLUMNS: tuple[str, ...] = ("subject_id", "session", "site", "split", "flair")
OPTIONAL_COLUMNS: tuple[str, ...] = ("t1", "wmh", "brain_mask", "diagnosis", "age", "sex", "scanner")
PATH_COLUMNS: tuple[str, ...] = ("flair", "t1", "wmh", "brain_mask")
DIAGNOSES: frozenset[str] = frozenset({"CN", "MCI", "AD"})
SPLITS: frozenset[str] = frozenset({"train", "val", "test", "unlabelled"})
SEXES: frozenset[str] = frozenset({"F", "M"})


def _is_blank(value: object) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return pd.api.types.is_scalar(value) and bool(pd.isna(value))  # None, NaN, pd.NA, NaT


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)  # row numbers in messages count from the table's first row
    for column in OPTIONAL_COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.NA
    for column in ("subject_id", "session", "site", "split", "scanner", "diagnosis", "sex", *PATH_COLUMNS):
        frame[column] = frame[column].map(lambda v: pd.NA if _is_blank(v) else str(v).strip()).astype("object")
    frame["age"] = pd.to_numeric(frame["age"], errors="coerce")
    ordered = [*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS]
    return frame[ordered + [c for c in frame.columns if c not in ordered]]


def validate_manifest(
    frame: pd.DataFrame,
    root: str | Path | None = None,
    source: str | Path | None = None,
    diagnoses: Iterable[str] = DIAGNOSES,
    check_files: bool = True,
) -> pd.DataFrame:
    """Check a manifest table and return it normalised with absolute paths.

    ``root`` is the folder relative paths are resolved against (the manifest's own folder).
    Raises :class:`ManifestError` listing every offending row: missing required columns or values,
    duplicate subject/session pairs, unknown diagnoses, splits or sexes, and missing files.
    """
    problems: list[str] = []
    missing_cols = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing_cols:
        raise ManifestError(source, [f"missing required column(s): {', '.join(missing_cols)}"])
    raw_age = frame["age"].reset_index(drop=True) if "age" in frame.columns else None
    frame = _normalise(frame)
    root = Path(root) if root is not None else Path.cwd()
    diagnoses = frozenset(diagnoses)

    def row_name(i: int) -> str:
        sid, ses = frame.at[i, "subject_id"], frame.at[i, "session"]
        return f"row {i + 2} ({sid}/{ses})"  # +2: header line and 1-based numbering, as in a spreadsheet

    for column in REQUIRED_COLUMNS:
        for i in frame.index[frame[column].isna()]:
            problems.append(f"{row_name(i)}: empty required column '{column}'")

    keyed = frame.dropna(subset=["subject_id", "session"])
    dup = keyed[keyed.duplicated(subset=["subject_id", "session"], keep=False)]
    for (sid, ses), rows in dup.groupby(["subject_id", "session"]).groups.items():
        lines = ", ".join(str(i + 2) for i in rows)
        problems.append(f"rows {lines}: duplicate subject/session {sid}/{ses}")

    for column, allowed in (("diagnosis", diagnoses), ("split", SPLITS), ("sex", SEXES)):
        values = frame[column]
        for i in values.index[values.notna() & ~values.isin(allowed)]:
            problems.append(f"{row_name(i)}: unknown {column} '{values[i]}' (expected one of {sorted(allowed)})")

    if raw_age is not None:
        unparsed = frame["age"].isna() & ~raw_age.map(_is_blank)
        for i in frame.index[unparsed]:
            problems.append(f"{row_name(i)}: age '{raw_age[i]}' is not a number")
    for i in frame.index[frame["age"].notna() & ((frame["age"] < 0) | (frame["age"] > 130))]:
        problems.append(f"{row_name(i)}: implausible age {frame.at[i, 'age']}")

    for column in PATH_COLUMNS:
        resolved = []
        for i, value in frame[column].items():
            if pd.isna(value):
                resolved.append(pd.NA)
                continue
            # normpath undoes write_manifest's relpath ("../images/x") without following symbolic links
            path = Path(os.path.normpath(value if os.path.isabs(value) else root / value))
            if check_files and not path.is_file():
                problems.append(f"{row_name(i)}: {column} file not found: {path}")
            resolved.append(str(path))
        frame[column] = pd.Series(resolved, index=frame.index, dtype="object")

    if problems:
        raise ManifestError(source, problems)
    return frame.reset_index(drop=True)


def read_manifest(path: str | Path, diagnoses: Iterable[str] = DIAGNOSES, check_files: bool = True) -> pd.DataFrame:
    """Read and validate a manifest CSV; paths come back absolute."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(path, ["file does not exist"])
    try:
        frame = pd.read_csv(path, dtype={"subject_id": str, "session": str, "site": str, "scanner": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ManifestError(path, [f"not a readable CSV table ({err})"]) from None
    return validate_manifest(frame, root=path.parent, source=path, diagnoses=diagnoses, check_files=check_files)


def write_manifest(frame: pd.DataFrame, path: str | Path, diagnoses: Iterable[str] = DIAGNOSES) -> Path:
    """Validate ``frame`` (absolute or manifest-relative paths) and write it with paths relative to ``path``."""
    path = Path(path).absolute()
    frame = validate_manifest(frame, root=path.parent, source=path, diagnoses=diagnoses)
    out = frame.copy()
    for column in PATH_COLUMNS:
        out[column] = out[column].map(lambda p: p if pd.isna(p) else os.path.relpath(p, path.parent))
    return write_table(out, path)
