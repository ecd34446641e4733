"""Leaderboards: runs grouped by config choices with mean and sd over folds and seeds, the best run of
each group, a rank, and a test of each group against a baseline group (paired over matching
fold/seed where the runs allow it, unpaired otherwise), p-values adjusted across groups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from wmhmap.errors import WmhmapError

__all__ = ["Comparison", "compare_groups", "varying_columns", "group_labels", "resolve_baseline", "leaderboard",
           "PAIRED_TESTS", "UNPAIRED_TESTS"]

PAIRED_TESTS = {"ttest": "paired t-test", "wilcoxon": "Wilcoxon signed-rank"}
UNPAIRED_TESTS = {"welch": "Welch t-test", "mannwhitney": "Mann-Whitney U"}
_MISSING = "-"


@dataclass(frozen=True)
class Comparison:
    """A group against the baseline: which test, on how many runs, the mean difference and p-value."""

    test: str
    n: int
    difference: float
    statistic: float
    p: float


def _paired(a: np.ndarray, b: np.ndarray, test: str) -> tuple[float, float]:
    diff = a - b
    if np.all(diff == 0):
        return 0.0, 1.0  # identical scores: no evidence of a difference (scipy would give NaN)
    if test == "ttest":
        result = stats.ttest_rel(a, b)
    else:
        result = stats.wilcoxon(a, b)
    return float(result.statistic), float(result.pvalue)


def _unpaired(a: np.ndarray, b: np.ndarray, test: str) -> tuple[float, float]:
    if test == "welch":
        if np.ptp(a) == 0 and np.ptp(b) == 0:
            return (0.0, 1.0) if a[0] == b[0] else (float("inf"), 0.0)
        result = stats.ttest_ind(a, b, equal_var=False)
    else:
        result = stats.mannwhitneyu(a, b, alternative="two-sided")
    return float(result.statistic), float(result.pvalue)


def compare_groups(group: pd.DataFrame, baseline: pd.DataFrame, metric: str, pair_on: Sequence[str] = (),
                   paired_test: str = "ttest", unpaired_test: str = "welch") -> Comparison:
    """Test ``group[metric]`` against ``baseline[metric]``.

    Runs are paired when both have the ``pair_on`` columns and at least two runs share the same
    values of them (scores of runs sharing a key are averaged first; unmatched runs are left out):
    paired t-test or Wilcoxon signed-rank on the differences. Otherwise the groups are compared as
    independent samples (Welch t-test or Mann-Whitney U). Fewer than two scores on a side: no test.
    """
    if paired_test not in PAIRED_TESTS or unpaired_test not in UNPAIRED_TESTS:
        raise WmhmapError(f"unknown test: paired {paired_test!r} (choose {sorted(PAIRED_TESTS)}), "
                          f"unpaired {unpaired_test!r} (choose {sorted(UNPAIRED_TESTS)})")
    keys = [k for k in pair_on if k in group.columns and k in baseline.columns]
    a_all = group[metric].dropna().to_numpy(float)
    b_all = baseline[metric].dropna().to_numpy(float)
    if keys:
        fill = {k: _MISSING for k in keys}
        a_by = group.fillna(fill).groupby(keys, dropna=False)[metric].mean().dropna()
        b_by = baseline.fillna(fill).groupby(keys, dropna=False)[metric].mean().dropna()
        matched = a_by.index.intersection(b_by.index)
        if len(matched) >= 2:
            a, b = a_by.loc[matched].to_numpy(float), b_by.loc[matched].to_numpy(float)
            statistic, p = _paired(a, b, paired_test)
            return Comparison(f"{PAIRED_TESTS[paired_test]}, {len(matched)} pairs on {', '.join(keys)}",
                              len(matched), float(np.mean(a - b)), statistic, p)
    if len(a_all) < 2 or len(b_all) < 2:
        return Comparison(f"none: fewer than 2 runs ({len(a_all)} vs {len(b_all)})", len(a_all),
                          float(np.mean(a_all) - np.mean(b_all)) if len(a_all) and len(b_all) else float("nan"),
                          float("nan"), float("nan"))
    statistic, p = _unpaired(a_all, b_all, unpaired_test)
    return Comparison(f"{UNPAIRED_TESTS[unpaired_test]}, unpaired {len(a_all)} vs {len(b_all)}", len(a_all),
                      float(np.mean(a_all) - np.mean(b_all)), statistic, p)


def varying_columns(runs: pd.DataFrame, candidates: Sequence[str]) -> list[str]:
    """The candidate columns whose values differ between runs (the config choices a report groups by)."""
    return [c for c in candidates if c in runs.columns and runs[c].astype(str).nunique(dropna=False) > 1]


def group_labels(frame: pd.DataFrame, group_by: Sequence[str]) -> pd.Series:
    """``key=value, key=value`` per row (the group a run belongs to)."""
    if not group_by:
        return pd.Series("all runs", index=frame.index)
    return frame[list(group_by)].astype(object).where(frame[list(group_by)].notna(), _MISSING).apply(
        lambda row: ", ".join(f"{k}={row[k]}" for k in group_by), axis=1)


def resolve_baseline(spec: Any, board: pd.DataFrame, group_by: Sequence[str]) -> str | None:
    """The baseline group's label: ``None`` (no tests), ``"best"`` (rank 1), a mapping of group keys to
    values, a group label, or one value of a single grouping key."""
    if spec is None:
        return None
    labels = board["group"].tolist()
    if isinstance(spec, str) and spec == "best":
        return str(board.loc[board["rank"] == 1, "group"].iloc[0])
    if isinstance(spec, str) and spec in labels:
        return spec
    if isinstance(spec, str) and len(group_by) == 1:
        spec = {group_by[0]: spec}
    if isinstance(spec, Mapping):
        unknown = [k for k in spec if k not in group_by]
        if unknown:
            raise WmhmapError(f"baseline keys {unknown} are not grouping keys {list(group_by)}")
        hits = board[np.logical_and.reduce([board[k].astype(str) == str(v) for k, v in spec.items()])]
        if len(hits) == 1:
            return str(hits["group"].iloc[0])
        problem = "matches no group" if hits.empty else f"matches {len(hits)} groups"
        raise WmhmapError(f"baseline {dict(spec)} {problem}; groups: {labels}")
    raise WmhmapError(f"baseline {spec!r} is not a group; use best, null, a group label or a mapping; groups: {labels}")


def leaderboard(runs: pd.DataFrame, group_by: Sequence[str], metric: str, *, metrics: Sequence[str] = (),
                higher_is_better: bool = True, baseline: Any = "best", pair_on: Sequence[str] = ("fold", "seed"),
                paired_test: str = "ttest", unpaired_test: str = "welch", correction: str | None = "holm",
                alpha: float = 0.05, run_column: str = "run") -> pd.DataFrame:
    """One row per group of ``runs`` (one row per run with ``group_by`` columns and metric columns).

    Columns: the group keys, ``group`` (label), ``n``, ``<m> mean`` and ``<m> sd`` for ``metric`` and
    each of ``metrics``, ``best run`` and ``best <metric>`` (the group's best run), ``rank`` (1 =
    best mean), and, with a baseline and more than one group: ``baseline`` (True on its row), ``difference`` (group minus
    baseline), ``test``, ``p``, ``p adjusted`` (``correction`` across groups) and ``significant``.
    """
    if metric not in runs.columns:
        raise WmhmapError(f"metric {metric!r} not found in the runs (columns: {list(runs.columns)})")
    runs = runs.assign(group=group_labels(runs, group_by))
    shown = [metric, *[m for m in metrics if m != metric and m in runs.columns]]
    rows = []
    for label, members in runs.groupby("group", sort=False):
        scored = members.dropna(subset=[metric])
        row: dict[str, Any] = {k: members[k].iloc[0] for k in group_by}
        row.update(group=label, n=len(members))
        for m in shown:
            row[f"{m} mean"] = members[m].mean()
            row[f"{m} sd"] = members[m].std(ddof=1) if members[m].count() > 1 else float("nan")
        if not scored.empty:
            best = scored.loc[scored[metric].idxmax() if higher_is_better else scored[metric].idxmin()]
            row["best run"], row[f"best {metric}"] = best.get(run_column), best[metric]
        rows.append(row)
    board = pd.DataFrame(rows)
    board["rank"] = board[f"{metric} mean"].rank(ascending=not higher_is_better, method="min").astype("Int64")
    board = board.sort_values(["rank", "group"], na_position="last").reset_index(drop=True)
    reference = resolve_baseline(baseline, board, group_by)
    if reference is None or len(board) < 2:
        return board
    base_runs = runs[runs["group"] == reference]
    results = {}
    for label in board["group"]:
        if label != reference:
            results[label] = compare_groups(runs[runs["group"] == label], base_runs, metric,
                                            [k for k in pair_on if k not in group_by], paired_test, unpaired_test)
    board["baseline"] = board["group"] == reference
    board["difference"] = board["group"].map(lambda g: results[g].difference if g in results else 0.0)
    board["test"] = board["group"].map(lambda g: results[g].test if g in results else "baseline")
    board["p"] = board["group"].map(lambda g: results[g].p if g in results else float("nan"))
    board["p adjusted"] = _adjust(board["p"], correction)
    board["significant"] = board["p adjusted"] < alpha
    return board


def _adjust(p: pd.Series, method: str | None) -> pd.Series:
    """p-values adjusted across the groups tested (``None``: unadjusted); untested rows stay NaN."""
    adjusted = p.copy()
    tested = p.notna()
    if method and tested.sum() > 1:
        from statsmodels.stats.multitest import multipletests

        adjusted[tested] = multipletests(p[tested].to_numpy(float), method=method)[1]
    return adjusted
