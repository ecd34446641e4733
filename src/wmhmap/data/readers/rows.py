"""Shared by the readers: order collected rows as a manifest and turn collected problems into one error."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from wmhmap.data.manifest import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from wmhmap.errors import InputError

__all__ = ["MANIFEST_COLUMNS", "absolute", "manifest_frame", "problems_error"]

MANIFEST_COLUMNS: tuple[str, ...] = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)


def absolute(path: str | Path) -> Path:
    """An absolute, user-expanded path that keeps symbolic links as given (unlike ``resolve``)."""
    return Path(os.path.abspath(os.path.expanduser(str(path))))


def manifest_frame(rows: Iterable[Mapping[str, object]]) -> pd.DataFrame:
    """Build a table with every manifest column, in the manifest's order, followed by any extra columns."""
    frame = pd.DataFrame(list(rows))
    for column in MANIFEST_COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.NA
    extras = [c for c in frame.columns if c not in MANIFEST_COLUMNS]
    return frame[[*MANIFEST_COLUMNS, *extras]].reset_index(drop=True)


def problems_error(path: str | Path, summary: str, problems: list[str]) -> InputError:
    """One :class:`InputError` naming ``path`` that lists every problem on its own line."""
    lines = "\n".join(f"  - {p}" for p in problems)
    return InputError(path, f"{summary} ({len(problems)} problem(s)):\n{lines}")
