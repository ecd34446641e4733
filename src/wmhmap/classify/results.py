"""Result tables: the paper's layout (rows feature sets, columns tasks, cells "AUC [low, high]")."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

__all__ = ["format_ci", "paper_table"]


def format_ci(value: float, low: float, high: float, digits: int = 2) -> str:
    """``0.87 [0.82, 0.91]``; an empty string when the value is missing."""
    if pd.isna(value):
        return ""
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def paper_table(summary: pd.DataFrame, row_order: Sequence[str], column_order: Sequence[str], digits: int = 2,
                row_labels: dict[str, str] | None = None) -> pd.DataFrame:
    """Feature sets x tasks table of "AUC [CI]" cells from ``summary`` (columns task, feature_set, auc,
    auc_ci_low, auc_ci_high); rows and columns in the given order, rows renamed by ``row_labels``."""
    cells = summary.assign(cell=[format_ci(a, lo, hi, digits) for a, lo, hi in
                                 zip(summary["auc"], summary["auc_ci_low"], summary["auc_ci_high"], strict=True)])
    table = cells.pivot(index="feature_set", columns="task", values="cell")
    table = table.reindex(index=[r for r in row_order if r in table.index],
                          columns=[c for c in column_order if c in table.columns]).fillna("")
    table.index = [(row_labels or {}).get(r, r) for r in table.index]
    table.index.name = "feature set"
    table.columns.name = None
    return table.reset_index()
