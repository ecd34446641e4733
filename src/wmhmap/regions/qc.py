"""QC figures of the quantify stage: a subject's regions and lesions on a few axial slices, and the
cohort's mean regional WMH per scheme."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from wmhmap.io.atomic import atomic_path  # noqa: E402

__all__ = ["overlay_slices", "subject_overlay", "cohort_bars"]


def overlay_slices(wmh: np.ndarray, regions: np.ndarray, n: int = 4) -> list[int]:
    """``n`` axial (last-axis) slices: spread over the lesion-bearing slices when there are lesions,
    else over the slices holding regions (else the whole volume)."""
    for mask in (wmh, regions > 0):
        present = np.flatnonzero(np.asarray(mask).reshape(-1, mask.shape[-1]).any(axis=0))
        if present.size:
            return sorted({int(present[int(round(q * (present.size - 1)))]) for q in np.linspace(0.15, 0.85, n)})
    return [int(z) for z in np.linspace(0, wmh.shape[-1] - 1, n + 2)[1:-1]]


def _save(fig: plt.Figure, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return path


def subject_overlay(image: np.ndarray, regions: np.ndarray, wmh: np.ndarray, path: str | Path,
                    title: str = "", n_slices: int = 4) -> Path:
    """PNG of ``n_slices`` axial slices: ``image`` in grey, ``regions`` as translucent colours, WMH
    outlined in red."""
    slices = overlay_slices(wmh, regions, n_slices)
    fig, axes = plt.subplots(1, len(slices), figsize=(2.8 * len(slices), 3.2), squeeze=False)
    lo, hi = np.percentile(image[image > 0], [1, 99]) if np.any(image > 0) else (0.0, 1.0)
    for ax, z in zip(axes[0], slices, strict=True):
        ax.imshow(image[:, :, z].T, cmap="gray", origin="lower", vmin=lo, vmax=hi)
        shown = np.ma.masked_equal(regions[:, :, z].T, 0)
        ax.imshow(shown % 20, cmap="tab20", origin="lower", alpha=0.35, vmin=0, vmax=19, interpolation="nearest")
        if wmh[:, :, z].any():
            ax.contour(wmh[:, :, z].T.astype(float), levels=[0.5], colors="red", linewidths=0.7, origin="lower")
        ax.set_title(f"z={z}", fontsize=7)
        ax.axis("off")
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    return _save(fig, Path(path))


def cohort_bars(long: pd.DataFrame, path: str | Path, top: int = 25) -> Path:
    """PNG with one panel per scheme: mean WMH (mL, +/- SEM over subjects) of its ``top`` regions."""
    schemes = list(dict.fromkeys(long["scheme"]))
    fig, axes = plt.subplots(len(schemes), 1, figsize=(8, 0.22 * top * len(schemes) + 1.0), squeeze=False)
    for ax, scheme in zip(axes[:, 0], schemes, strict=True):
        stats = long[long["scheme"] == scheme].groupby("region")["wmh_ml"].agg(["mean", "sem"])
        stats = stats.sort_values("mean", ascending=False).head(top).iloc[::-1]
        ax.barh(stats.index, stats["mean"], xerr=stats["sem"].fillna(0), color="tab:blue", alpha=0.8)
        ax.set_title(f"{scheme}: mean regional WMH", fontsize=9)
        ax.set_xlabel("WMH (mL)", fontsize=8)
        ax.tick_params(axis="y", labelsize=6)
    fig.tight_layout()
    return _save(fig, Path(path))
