"""From the per-subject metric table to summaries: lesion-load bands, mean/std/median per group, Markdown."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from wmhmap.evaluation.pair import METRICS

__all__ = ["SUMMARY_COLUMNS", "lesion_load_band", "summarise", "summary_markdown"]

SUMMARY_COLUMNS: tuple[str, ...] = (*METRICS, "reference_ml", "prediction_ml")
"""Per-subject columns summarised per group: the five challenge metrics and both volumes."""


def lesion_load_band(volume_ml: Sequence[float], edges_ml: Sequence[float], names: Sequence[str]) -> pd.Series:
    """Band of each reference volume: ``names[i]`` for ``edges_ml[i] <= v < edges_ml[i + 1]``.

    E.g. edges [0, 5, 15, inf] with names [low, medium, high]; a volume outside every band is an error.
    """
    edges = [float(e) for e in edges_ml]
    if len(names) != len(edges) - 1:
        raise ValueError(f"{len(edges)} band edges need {len(edges) - 1} names, got {len(names)}: {list(names)}")
    if any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise ValueError(f"band edges must increase strictly, got {edges}")
    volumes = pd.Series(volume_ml, dtype=float)
    bands = pd.cut(volumes, bins=edges, labels=list(names), right=False)
    outside = volumes[bands.isna() & volumes.notna()]
    if len(outside):
        raise ValueError(f"volume(s) {outside.tolist()} mL fall outside the bands [{edges[0]}, {edges[-1]})")
    return bands.astype(object)


def _describe(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, float]:
    row: dict[str, float] = {"n": len(frame)}
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce").dropna()
        row[f"{column}_mean"] = float(values.mean()) if len(values) else float("nan")
        row[f"{column}_std"] = float(values.std()) if len(values) > 1 else float("nan")
        row[f"{column}_median"] = float(values.median()) if len(values) else float("nan")
    return row


def summarise(table: pd.DataFrame, by: Sequence[str] = ("site", "lesion_load"),
              columns: Sequence[str] = SUMMARY_COLUMNS) -> pd.DataFrame:
    """Mean, std (ddof 1) and median of ``columns`` overall and per value of each ``by`` column.

    One row per group: ``grouping`` (all, site, lesion_load, ...), ``group``, ``n`` (subjects), then
    ``<column>_mean/_std/_median``; NaN values (undefined metrics) are left out of the statistics.
    """
    rows = [{"grouping": "all", "group": "all", **_describe(table, columns)}]
    for grouping in by:
        if grouping not in table.columns:
            continue
        for group, frame in table.groupby(grouping, sort=True, dropna=True):
            rows.append({"grouping": grouping, "group": str(group), **_describe(frame, columns)})
    return pd.DataFrame(rows)


def _format(mean: float, std: float, median: float) -> str:
    if not np.isfinite(mean):
        return "n/a"
    spread = f" ± {std:.3g}" if np.isfinite(std) else ""
    return f"{mean:.3g}{spread} ({median:.3g})"


def summary_markdown(summary: pd.DataFrame, agreement: pd.DataFrame | None = None,
                     skipped: pd.DataFrame | None = None, columns: Sequence[str] = SUMMARY_COLUMNS) -> str:
    """A Markdown report: the summary as ``mean ± std (median)`` per group, agreement stats, skipped subjects."""
    compact = summary[["grouping", "group", "n"]].copy()
    for column in columns:
        compact[column] = [
            _format(r[f"{column}_mean"], r[f"{column}_std"], r[f"{column}_median"]) for _, r in summary.iterrows()
        ]
    parts = ["# Evaluation summary", "", "Challenge metrics, mean ± std (median); HD95 in mm, AVD in %, volumes in mL.",
             "", compact.to_markdown(index=False)]
    if agreement is not None and len(agreement):
        parts += ["", "## Volume agreement (predicted vs reference lesion load)", "",
                  agreement.to_markdown(index=False, floatfmt=".4g")]
    if skipped is not None and len(skipped):
        parts += ["", f"## Skipped subjects ({len(skipped)})", "", skipped.to_markdown(index=False)]
    return "\n".join(parts) + "\n"
