"""Statistics for comparing classifiers: fast DeLong AUC variance and paired test (Sun & Xu 2014),
stratified bootstrap AUC confidence interval, the Nadeau-Bengio corrected resampled t-test, and a
NaN-tolerant wrapper of statsmodels' multiple-testing correction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.stats import rankdata
from statsmodels.stats.multitest import multipletests

from wmhmap.classify.metrics import roc_auc

__all__ = [
    "DeLongTest",
    "CorrectedTTest",
    "delong_covariance",
    "delong_test",
    "bootstrap_auc_ci",
    "corrected_resampled_ttest",
    "adjust_pvalues",
]


@dataclass(frozen=True)
class DeLongTest:
    """Paired DeLong comparison of two AUCs on the same cases: z = (auc_a - auc_b) / sd(difference)."""

    auc_a: float
    auc_b: float
    difference: float
    variance: float
    z: float
    p: float


@dataclass(frozen=True)
class CorrectedTTest:
    """Nadeau-Bengio corrected resampled t-test of the mean per-fold difference."""

    mean_difference: float
    t: float
    df: int
    p: float


def delong_covariance(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs and their DeLong covariance matrix for k score vectors on the same cases (fast DeLong).

    ``scores`` is (n,) or (k, n); returns (aucs (k,), covariance (k, k)). Sun & Xu (2014), IEEE SPL
    21(11): midranks within positives, within negatives and overall give the structural components
    V10 (per positive) and V01 (per negative) in O(k n log n) instead of O(k m n).
    """
    positive = np.asarray(y).astype(bool)
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    m, n = int(positive.sum()), int((~positive).sum())
    if m < 2 or n < 2:
        raise ValueError(f"DeLong variance needs at least two cases per class (got {m} positive, {n} negative)")
    pos, neg = scores[:, positive], scores[:, ~positive]
    tx = rankdata(pos, axis=1)
    ty = rankdata(neg, axis=1)
    tz = rankdata(np.concatenate([pos, neg], axis=1), axis=1)
    aucs = tz[:, :m].sum(axis=1) / (m * n) - (m + 1.0) / (2.0 * n)
    v10 = (tz[:, :m] - tx) / n          # per positive: share of negatives scored below it
    v01 = 1.0 - (tz[:, m:] - ty) / m    # per negative: share of positives scored above it
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, cov


def delong_test(y: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray) -> DeLongTest:
    """Two-sided paired DeLong test of AUC(a) = AUC(b); identical rankings give p = 1."""
    aucs, cov = delong_covariance(y, np.vstack([scores_a, scores_b]))
    difference = float(aucs[0] - aucs[1])
    variance = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    if variance <= 1e-15:
        z = 0.0 if abs(difference) < 1e-12 else float(np.sign(difference) * np.inf)
    else:
        z = difference / np.sqrt(variance)
    p = float(2.0 * stats.norm.sf(abs(z)))
    return DeLongTest(float(aucs[0]), float(aucs[1]), difference, max(variance, 0.0), float(z), p)


def _row_bootstrap(positive: np.ndarray, scores: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Mean-over-repeats AUC of ``n_boot`` resamples drawn with replacement within each class (vectorised).

    Each resample keeps m positives then n negatives, so the positives are the first m columns.
    """
    pos, neg = np.flatnonzero(positive), np.flatnonzero(~positive)
    m, n = pos.size, neg.size
    chunk = max(1, 2_000_000 // (scores.shape[0] * (m + n)))
    values = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        idx = np.concatenate([rng.choice(pos, (size, m)), rng.choice(neg, (size, n))], axis=1)
        ranks = rankdata(scores[:, idx], axis=-1)
        aucs = (ranks[..., :m].sum(axis=-1) - m * (m + 1) / 2.0) / (m * n)
        values[start:start + size] = aucs.mean(axis=0)
    return values


def _grouped_bootstrap(positive: np.ndarray, scores: np.ndarray, groups: np.ndarray, n_boot: int,
                       rng: np.random.Generator) -> np.ndarray:
    """Mean-over-repeats AUC of ``n_boot`` resamples of whole groups, within the class of each group's first row."""
    strata = _grouped_rows(positive, groups)
    values = np.full(n_boot, np.nan)
    for b in range(n_boot):
        idx = np.concatenate([s[k] for s in strata for k in rng.integers(0, len(s), size=len(s))])
        yb = positive[idx]
        if yb.any() and not yb.all():
            values[b] = np.mean(roc_auc(yb.astype(int), scores[:, idx]))
    return values


def _grouped_rows(y: np.ndarray, groups: np.ndarray) -> list[list[np.ndarray]]:
    """Row-index arrays of each group, split into strata by the label of the group's first row."""
    _, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    rows = [np.flatnonzero(inverse == g) for g in range(first.size)]
    return [[rows[g] for g in range(first.size) if y[first[g]] == label] for label in (True, False)]


def bootstrap_auc_ci(
    y: np.ndarray,
    scores: np.ndarray,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> tuple[float, float, float]:
    """AUC and its percentile bootstrap CI from a stratified bootstrap of out-of-fold predictions.

    ``scores`` is (n,) or (repeats, n); the statistic is the mean over repeats of the AUC, so the
    interval matches the reported point estimate. With ``groups`` holding repeated ids (several
    visits per subject), whole subjects are resampled (within the class of their first row).
    """
    positive = np.asarray(y).astype(bool)
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    estimate = float(np.mean(roc_auc(positive.astype(int), scores)))
    rng = np.random.default_rng(seed)
    if groups is not None and np.unique(groups).size < positive.size:
        values = _grouped_bootstrap(positive, scores, np.asarray(groups), n_boot, rng)
    else:
        values = _row_bootstrap(positive, scores, n_boot, rng)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.nanquantile(values, [alpha, 1.0 - alpha])
    return estimate, float(low), float(high)


def corrected_resampled_ttest(differences: np.ndarray, n_train: float, n_test: float) -> CorrectedTTest:
    """Corrected resampled t-test over J = repeats x folds paired score differences.

    Nadeau & Bengio (2003), Machine Learning 52: t = mean(d) / sqrt((1/J + n_test/n_train) s^2),
    with s^2 the sample variance (ddof 1) of d and J - 1 degrees of freedom; the n_test/n_train term
    corrects for overlapping training sets across folds. Two-sided p.
    """
    d = np.asarray(differences, dtype=float)
    if d.size < 2:
        raise ValueError(f"the corrected t-test needs at least two folds, got {d.size}")
    mean = float(d.mean())
    variance = float(d.var(ddof=1))
    df = d.size - 1
    if variance <= 0.0:
        t = 0.0 if mean == 0.0 else float(np.sign(mean) * np.inf)
    else:
        t = mean / np.sqrt((1.0 / d.size + n_test / n_train) * variance)
    p = float(2.0 * stats.t.sf(abs(t), df))
    return CorrectedTTest(mean, float(t), df, p)


def adjust_pvalues(pvalues: np.ndarray, method: str = "fdr_bh") -> np.ndarray:
    """Multiple-testing adjusted p-values (statsmodels ``multipletests`` method: holm, fdr_bh, ...); NaN stays NaN."""
    p = np.asarray(pvalues, dtype=float)
    adjusted = np.full_like(p, np.nan)
    finite = np.isfinite(p)
    if finite.any():
        adjusted[finite] = multipletests(p[finite], method=method)[1]
    return adjusted
