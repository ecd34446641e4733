"""Figures of the classification stage: ROC curves of the feature sets for one task, and a forest
plot of per-region odds ratios with their confidence intervals. Both written atomically as PNG."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from wmhmap.io.atomic import atomic_path  # noqa: E402

__all__ = ["plot_roc_curves", "plot_forest"]


def plot_roc_curves(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], title: str, path: str | Path) -> Path:
    """One ROC curve per legend label (label -> (false-positive rates, true-positive rates)) with the chance line."""
    fig, ax = plt.subplots(figsize=(5.5, 5.0))
    for label, (fpr, tpr) in curves.items():
        ax.plot(fpr, tpr, lw=1.8, label=label)
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="1 - specificity", ylabel="sensitivity", title=title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return path


def _short_names(names: list[str]) -> list[str]:
    """Names without their shared ``__``-delimited prefix (``wmh_ml__jhu__genu`` -> ``genu``)."""
    prefix = os.path.commonprefix(names) if len(names) > 1 else ""
    cut = prefix.rfind("__")
    return [n[cut + 2:] for n in names] if cut >= 0 else list(names)


def plot_forest(table: pd.DataFrame, title: str, path: str | Path, q_threshold: float = 0.05) -> Path:
    """Odds ratio per SD (log axis) with CI for each row of ``table`` (columns region, odds_ratio,
    ci_low, ci_high, q); regions with q < ``q_threshold`` are drawn filled."""
    table = table.dropna(subset=["odds_ratio"]).sort_values("odds_ratio")
    fig, ax = plt.subplots(figsize=(6.5, max(2.5, 0.28 * len(table) + 1.2)))
    positions = np.arange(len(table))
    significant = (table["q"] < q_threshold).to_numpy()
    ax.errorbar(table["odds_ratio"], positions,
                xerr=[table["odds_ratio"] - table["ci_low"], table["ci_high"] - table["odds_ratio"]],
                fmt="none", ecolor="black", elinewidth=1, capsize=2)
    ax.scatter(table["odds_ratio"][significant], positions[significant], color="tab:red", zorder=3, label=f"q < {q_threshold}")
    ax.scatter(table["odds_ratio"][~significant], positions[~significant], facecolor="white", edgecolor="black", zorder=3)
    ax.axvline(1.0, color="grey", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_yticks(positions, _short_names(list(table["region"])), fontsize=7)
    ax.set(xlabel="odds ratio per SD (95% CI)", title=title)
    if significant.any():
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return path
