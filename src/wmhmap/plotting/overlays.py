"""Overlay figures: an MRI slice with reference and predicted lesion outlines."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from wmhmap.io.atomic import atomic_path  # noqa: E402

__all__ = ["overlay_figure", "best_axial_slice"]


def best_axial_slice(*masks: np.ndarray) -> int:
    """The axial (last-axis) slice holding most foreground across ``masks``; the middle one if all are empty."""
    counts = sum(m.reshape(-1, m.shape[-1]).sum(axis=0) for m in masks)
    return int(np.argmax(counts)) if np.any(counts) else masks[0].shape[-1] // 2


def overlay_figure(
    panels: Sequence[dict[str, np.ndarray | str]],
    path: str | Path,
) -> Path:
    """Write a PNG with one column per panel: ``image`` (X, Y, Z) with ``reference`` outlined in green
    and ``prediction`` in red on the slice with most lesion; ``title`` above each."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        image = np.asarray(panel["image"])
        masks = [np.asarray(panel[k]) for k in ("reference", "prediction") if k in panel]
        z = best_axial_slice(*masks) if masks else image.shape[-1] // 2
        # Axial slice shown radiologically upright: RAS arrays are (x, y), so transpose and flip y.
        ax.imshow(image[:, :, z].T, cmap="gray", origin="lower")
        for key, colour in (("reference", "lime"), ("prediction", "red")):
            if key in panel and np.any(np.asarray(panel[key])[:, :, z]):
                ax.contour(np.asarray(panel[key])[:, :, z].T.astype(float), levels=[0.5], colors=colour,
                           linewidths=0.8, origin="lower")
        ax.set_title(str(panel.get("title", "")), fontsize=8)
        ax.axis("off")
    fig.text(0.01, 0.01, "green: reference   red: prediction", fontsize=7)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return path
