"""Report figures: training curves of every run (coloured by group) and a leaderboard bar chart with
sd error bars, the baseline hatched and significant differences starred. Written atomically as PNG."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from wmhmap.io.atomic import atomic_path

__all__ = ["training_curves_plot", "leaderboard_plot"]


def _save(fig: Figure, path: str | Path) -> Path:
    FigureCanvasAgg(fig)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    return Path(path)


def training_curves_plot(curves: Mapping[str, pd.DataFrame], groups: Mapping[str, str], metrics: Sequence[str],
                         path: str | Path) -> Path | None:
    """One panel per metric (against epoch), one line per run, one colour per group; ``None`` when no
    run logged any of ``metrics``."""
    shown = [m for m in metrics if any(m in c.columns for c in curves.values())]
    if not shown:
        return None
    palette = {g: f"C{i % 10}" for i, g in enumerate(dict.fromkeys(groups.get(r, r) for r in curves))}
    fig = Figure(figsize=(4.2 * len(shown), 3.6 + 0.22 * math.ceil(len(palette) / len(shown))))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(shown), squeeze=False)[0]
    for ax, metric in zip(axes, shown, strict=True):
        for run, frame in curves.items():
            if metric in frame.columns:
                data = frame[["epoch", metric]].dropna()
                ax.plot(data["epoch"], data[metric], color=palette[groups.get(run, run)], lw=1.3, alpha=0.85,
                        marker="o" if len(data) < 3 else None, ms=3)
        ax.set(xlabel="epoch", title=metric)
        ax.grid(alpha=0.3)
    handles = [axes[0].plot([], [], color=colour, lw=2, label=group)[0] for group, colour in palette.items()]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(shown), len(handles)) or 1, fontsize="small",
               frameon=False)
    fig.tight_layout(rect=(0, 0.06 + 0.045 * math.ceil(len(handles) / max(1, len(shown))), 1, 1))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    return Path(path)


def leaderboard_plot(board: pd.DataFrame, metric: str, path: str | Path) -> Path:
    """Horizontal bars of each group's mean ``metric`` (sd error bars), best on top; the baseline group
    hatched; ``*`` after a group whose adjusted p-value is significant."""
    board = board.sort_values("rank", ascending=False, na_position="first")
    means = board[f"{metric} mean"].to_numpy(float)
    sds = np.nan_to_num(board[f"{metric} sd"].to_numpy(float))
    fig = Figure(figsize=(7.5, 1.2 + 0.42 * len(board)))
    ax = fig.add_subplot()
    positions = np.arange(len(board))
    bars = ax.barh(positions, np.nan_to_num(means), xerr=sds, color="C0", alpha=0.8, capsize=3)
    labels = board["group"].astype(str).tolist()
    if "baseline" in board.columns:
        for bar, is_base in zip(bars, board["baseline"].to_numpy(bool), strict=True):
            if is_base:
                bar.set_hatch("//")
                bar.set_facecolor("0.75")
        significant = board["significant"].fillna(False).to_numpy(bool)
        labels = [f"{lab} *" if sig else lab for lab, sig in zip(labels, significant, strict=True)]
    for y, (mean, sd, n) in enumerate(zip(means, sds, board["n"], strict=True)):
        if np.isfinite(mean):
            ax.annotate(f"{mean:.3g} (n={n})", xy=(max(mean + sd, 0.0), y), xytext=(6, 0), textcoords="offset points",
                        va="center", fontsize="small")
    ax.set_yticks(positions, labels, fontsize="small")
    ax.set_xlabel(f"{metric} (mean ± sd over runs)")
    finite = means[np.isfinite(means)]
    upper = float((finite + sds[np.isfinite(means)]).max()) if finite.size else 1.0
    ax.set_xlim(min(0.0, float(finite.min()) if finite.size else 0.0), upper * 1.25 if upper > 0 else 1.0)
    title = "Leaderboard" + (" (hatched: baseline; *: significant vs baseline)" if "baseline" in board.columns else "")
    ax.set_title(title, fontsize="medium")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)
