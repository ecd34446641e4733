"""Read a cohort's CSV/TSV table with every value as text, so codes and ids keep their exact spelling."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from wmhmap.errors import InputError

__all__ = ["read_table", "require_columns", "indexed_by"]


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a .csv or .tsv table as strings (blank cells as NaN); unreadable files raise :class:`InputError`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "table does not exist")
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    try:
        return pd.read_csv(
            path, sep=sep, dtype=str, keep_default_na=False, na_values=["", "n/a", "NA", "NaN"]
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(path, f"not a readable table ({err})") from None


def require_columns(frame: pd.DataFrame, columns: Iterable[str], path: str | Path, hint: str = "") -> None:
    """Raise :class:`InputError` naming every column of ``columns`` that ``frame`` (read from ``path``) lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            path,
            f"missing column(s) {missing}; the table has {list(frame.columns)}{'; ' + hint if hint else ''}",
        )


def indexed_by(frame: pd.DataFrame, column: str, path: str | Path) -> pd.DataFrame:
    """``frame`` indexed by ``column``, whose values must be unique: repeated ids raise :class:`InputError`."""
    repeated = sorted(frame.loc[frame[column].duplicated(), column].astype(str).unique())
    if repeated:
        raise InputError(path, f"{column} values appear more than once: {repeated}")
    return frame.set_index(column)
