"""Summaries of nested-CV results: AUC (mean over repeats of the pooled out-of-fold AUC, bootstrap
CI), balanced accuracy, sensitivity, specificity; and paired comparisons of feature sets (DeLong on
the same out-of-fold predictions, corrected resampled t-test over the same folds)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from wmhmap.classify.metrics import binary_metrics, roc_auc
from wmhmap.classify.nested_cv import NestedCVResult
from wmhmap.classify.stats import adjust_pvalues, bootstrap_auc_ci, corrected_resampled_ttest, delong_test

__all__ = ["summarise_result", "compare_to_reference", "adjust_comparisons"]

_RATES = ("balanced_accuracy", "sensitivity", "specificity")


def summarise_result(result: NestedCVResult, groups: np.ndarray | None = None, n_boot: int = 2000,
                     confidence: float = 0.95, seed: int = 0) -> dict[str, float]:
    """AUC (mean over repeats of the pooled out-of-fold AUC) with its bootstrap CI and SD over repeats, the
    mean (SD) per-fold test AUC, and the mean (SD) over repeats of each threshold metric."""
    auc, low, high = bootstrap_auc_ci(result.y, result.scores, n_boot=n_boot, confidence=confidence,
                                      seed=seed, groups=groups)
    per_repeat = np.atleast_1d(roc_auc(result.y, result.scores))
    rates = pd.DataFrame([binary_metrics(result.y, p) for p in result.predictions])
    out = {"n": int(result.y.size), "n_positive": int(result.y.sum()), "auc": auc, "auc_ci_low": low,
           "auc_ci_high": high, "auc_sd": float(per_repeat.std(ddof=1)) if per_repeat.size > 1 else 0.0}
    # Pooled AUC also penalises score scales that differ between folds; the per-fold mean does not.
    out["fold_auc_mean"] = float(np.nanmean(result.fold_aucs))
    out["fold_auc_sd"] = float(np.nanstd(result.fold_aucs, ddof=1)) if result.fold_aucs.size > 1 else 0.0
    for name in _RATES:
        out[name] = float(rates[name].mean())
        out[f"{name}_sd"] = float(rates[name].std(ddof=1)) if len(rates) > 1 else 0.0
    return out


def compare_to_reference(results: Mapping[str, NestedCVResult], reference: str,
                         tests: Sequence[str] = ("delong", "corrected_t")) -> pd.DataFrame:
    """One row per feature set other than ``reference``: AUC difference and the requested paired tests.

    DeLong compares the repeat-averaged out-of-fold scores of the two feature sets on the same rows;
    the corrected t-test compares their per-fold test AUCs over the same repeats x folds.
    """
    unknown = set(tests) - {"delong", "corrected_t"}
    if unknown:
        raise ValueError(f"unknown comparison test(s) {sorted(unknown)}; use delong and/or corrected_t")
    if reference not in results:
        raise ValueError(f"reference feature set {reference!r} is not among {sorted(results)}")
    base = results[reference]
    rows = []
    for name, other in results.items():
        if name == reference:
            continue
        if [f.test_rows for f in other.folds] != [f.test_rows for f in base.folds]:
            raise ValueError(f"{name!r} and {reference!r} were not scored on the same folds")
        row: dict[str, float | str] = {"feature_set": name, "reference": reference}
        row["auc"] = float(np.mean(roc_auc(other.y, other.scores)))
        row["auc_reference"] = float(np.mean(roc_auc(base.y, base.scores)))
        row["auc_difference"] = row["auc"] - row["auc_reference"]
        if "delong" in tests:
            test = delong_test(base.y, other.scores.mean(axis=0), base.scores.mean(axis=0))
            row.update(delong_difference=test.difference, delong_z=test.z, delong_p=test.p)
        if "corrected_t" in tests:
            n_train = float(np.mean([f.n_train for f in base.folds]))
            n_test = float(np.mean([f.n_test for f in base.folds]))
            test_t = corrected_resampled_ttest(other.fold_aucs - base.fold_aucs, n_train, n_test)
            row.update(t_mean_difference=test_t.mean_difference, t_statistic=test_t.t, t_df=test_t.df, t_p=test_t.p)
        rows.append(row)
    return pd.DataFrame(rows)


def adjust_comparisons(table: pd.DataFrame, method: str) -> pd.DataFrame:
    """Add ``delong_q`` / ``t_q``: each test's p-values adjusted together across all rows (every task and feature set)."""
    table = table.copy()
    for p_column, q_column in (("delong_p", "delong_q"), ("t_p", "t_q")):
        if p_column in table.columns:
            table.insert(table.columns.get_loc(p_column) + 1, q_column, adjust_pvalues(table[p_column].to_numpy(), method))
    return table
