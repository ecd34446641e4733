"""Classification metrics on out-of-fold predictions: rank-based ROC AUC, balanced accuracy,
sensitivity, specificity, and a repeat-averaged ROC curve.

AUC is the Mann-Whitney statistic (ties count one half), computed from midranks so it is exact,
vectorised over repeats and free of scikit-learn's per-call validation overhead inside tuning loops.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import roc_curve

__all__ = ["roc_auc", "binary_metrics", "mean_roc_curve"]


def _binary_labels(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    values = np.unique(y)
    if not np.isin(values, (0, 1)).all():
        raise ValueError(f"labels must be 0/1, got {values.tolist()}")
    return y.astype(bool)


def roc_auc(y: np.ndarray, scores: np.ndarray) -> float | np.ndarray:
    """ROC AUC of ``scores`` for 0/1 labels ``y``; ``scores`` may be (n,) or (repeats, n) -> one AUC per row."""
    positive = _binary_labels(y)
    m = int(positive.sum())
    n = positive.size - m
    if m == 0 or n == 0:
        raise ValueError(f"AUC needs both classes (got {m} positive, {n} negative)")
    scores = np.asarray(scores, dtype=float)
    ranks = rankdata(scores, axis=-1)
    auc = (ranks[..., positive].sum(axis=-1) - m * (m + 1) / 2.0) / (m * n)
    return float(auc) if np.ndim(auc) == 0 else auc


def binary_metrics(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Sensitivity (true-positive rate), specificity (true-negative rate) and their mean, balanced accuracy."""
    positive = _binary_labels(y)
    predicted = _binary_labels(predicted)
    sensitivity = float(predicted[positive].mean()) if positive.any() else float("nan")
    specificity = float((~predicted[~positive]).mean()) if (~positive).any() else float("nan")
    return {
        "balanced_accuracy": (sensitivity + specificity) / 2.0,
        "sensitivity": sensitivity,
        "specificity": specificity,
    }


def mean_roc_curve(y: np.ndarray, scores: np.ndarray, n_points: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """ROC curve averaged vertically over repeats: (false-positive-rate grid, mean true-positive rate)."""
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    grid = np.linspace(0.0, 1.0, n_points)
    tprs = []
    for row in scores:
        fpr, tpr, _ = roc_curve(y, row)
        tprs.append(np.interp(grid, fpr, tpr))
    mean = np.mean(tprs, axis=0)
    mean[0] = 0.0
    return grid, mean
