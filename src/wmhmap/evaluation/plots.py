"""Volume agreement figures: Bland-Altman and predicted-vs-reference scatter, coloured by group (site)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from wmhmap.evaluation.agreement import bland_altman
from wmhmap.io.atomic import atomic_path

__all__ = ["bland_altman_plot", "volume_scatter_plot"]


def _scatter_by_group(ax: Axes, x: np.ndarray, y: np.ndarray, groups: Sequence[str] | None) -> None:
    """Scatter ``x, y``; one colour and legend entry per group when groups are given."""
    if groups is None:
        ax.scatter(x, y, s=18, alpha=0.8)
        return
    groups = np.asarray([str(g) for g in groups])
    for group in sorted(set(groups)):
        keep = groups == group
        ax.scatter(x[keep], y[keep], s=18, alpha=0.8, label=group)
    ax.legend(title="site", fontsize="small", loc="best")


def _save(fig: Figure, path: str | Path) -> Path:
    """Render ``fig`` with the Agg canvas (no pyplot, no display) and write it atomically as PNG."""
    FigureCanvasAgg(fig)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    return Path(path)


def bland_altman_plot(reference_ml: Sequence[float], prediction_ml: Sequence[float], path: str | Path,
                      groups: Sequence[str] | None = None, title: str = "Lesion load agreement") -> Path:
    """Bland-Altman plot: difference (prediction - reference) against mean volume, with bias and 95 % limits."""
    reference, prediction = np.asarray(reference_ml, dtype=float), np.asarray(prediction_ml, dtype=float)
    limits = bland_altman(reference, prediction)
    fig = Figure(figsize=(5.5, 4.2))
    ax = fig.add_subplot()
    _scatter_by_group(ax, (reference + prediction) / 2, prediction - reference, groups)
    for value, style, label in ((limits.mean_difference, "-", "bias"), (limits.upper_limit, "--", "+1.96 SD"),
                                (limits.lower_limit, "--", "-1.96 SD")):
        if np.isfinite(value):
            ax.axhline(value, color="0.3", linestyle=style, linewidth=1)
            ax.annotate(f"{label} {value:.2f}", xy=(1, value), xycoords=("axes fraction", "data"),
                        ha="right", va="bottom", fontsize="small", color="0.3")
    ax.set_xlabel("mean of predicted and reference volume (mL)")
    ax.set_ylabel("predicted - reference volume (mL)")
    ax.set_title(title)
    return _save(fig, path)


def volume_scatter_plot(reference_ml: Sequence[float], prediction_ml: Sequence[float], path: str | Path,
                        groups: Sequence[str] | None = None, title: str = "Predicted vs reference lesion load",
                        note: str | None = None) -> Path:
    """Predicted against reference volume with the identity line; ``note`` (e.g. r and ICC) in a corner."""
    reference, prediction = np.asarray(reference_ml, dtype=float), np.asarray(prediction_ml, dtype=float)
    fig = Figure(figsize=(5, 4.6))
    ax = fig.add_subplot()
    _scatter_by_group(ax, reference, prediction, groups)
    finite = np.concatenate([reference, prediction])
    finite = finite[np.isfinite(finite)]
    top = float(finite.max()) * 1.05 if finite.size and finite.max() > 0 else 1.0
    ax.plot([0, top], [0, top], color="0.5", linestyle=":", linewidth=1, label="identity")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_aspect("equal")
    if note:
        ax.text(0.97, 0.03, note, transform=ax.transAxes, ha="right", va="bottom", fontsize="small")
    ax.set_xlabel("reference volume (mL)")
    ax.set_ylabel("predicted volume (mL)")
    ax.set_title(title)
    return _save(fig, path)
