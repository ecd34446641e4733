"""A PNG montage of a few synthetic subjects (FLAIR, T1, FLAIR with lesion outlines), to see at a glance
what the generator made."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from wmhmap.io.atomic import atomic_path  # noqa: E402

__all__ = ["pick_montage_rows", "write_montage"]


def pick_montage_rows(manifest: pd.DataFrame, n: int) -> pd.DataFrame:
    """Up to ``n`` first visits, taking sites in turn and, within a site, the least-shown diagnosis."""
    first = manifest.sort_values(["subject_id", "session"]).groupby("subject_id", sort=False).head(1)
    queues = {site: group for site, group in first.groupby("site", sort=True)}
    shown: dict[str, int] = {}
    picked = []
    while len(picked) < n and any(len(q) for q in queues.values()):
        for site in list(queues):
            queue = queues[site]
            if len(picked) >= n or not len(queue):
                continue
            best = min(queue.index, key=lambda i: (shown.get(str(queue.at[i, "diagnosis"]), 0), i))
            shown[str(queue.at[best, "diagnosis"])] = shown.get(str(queue.at[best, "diagnosis"]), 0) + 1
            picked.append(best)
            queues[site] = queue.drop(best)
    return first.loc[picked]


def _canonical(path: str) -> tuple[np.ndarray, np.ndarray]:
    image = nib.as_closest_canonical(nib.load(path))
    return np.asarray(image.dataobj), np.asarray(image.header.get_zooms()[:3], dtype=float)


def _axial_slice(labels: np.ndarray, mask: np.ndarray) -> int:
    """The slice with most WMH among the central half of the brain's axial extent (ventricle level)."""
    extent = np.nonzero(mask.any(axis=(0, 1)))[0]
    low, high = (extent[0], extent[-1]) if len(extent) else (0, mask.shape[2] - 1)
    lo, hi = int(low + 0.4 * (high - low)), int(low + 0.75 * (high - low)) + 1
    counts = (labels[:, :, lo:hi] == 1).sum(axis=(0, 1))
    return lo + int(np.argmax(counts)) if counts.any() else (lo + hi) // 2


def write_montage(manifest_frame: pd.DataFrame, path: str | Path, n: int = 4) -> Path:
    """Write a PNG: one row per subject (n at most), columns FLAIR, T1, FLAIR with WMH (red) and other
    pathology (cyan) outlined; axial slices in neurological view (left on the left, anterior up)."""
    rows = pick_montage_rows(manifest_frame, n)
    if rows.empty:
        raise ValueError("write_montage: the manifest has no rows to show")
    fig, axes = plt.subplots(len(rows), 3, figsize=(9.0, 3.2 * len(rows)), squeeze=False, facecolor="black")
    for ax_row, (_, row) in zip(axes, rows.iterrows(), strict=True):
        flair, zooms = _canonical(row["flair"])
        t1, _ = _canonical(row["t1"])
        labels, _ = _canonical(row["wmh"])
        mask, _ = _canonical(row["brain_mask"])
        z = _axial_slice(labels, mask)
        aspect = zooms[1] / zooms[0]
        for ax, image in zip(ax_row, (flair, t1, flair), strict=True):
            inside = image[mask > 0]
            top = float(np.percentile(inside, 99.5)) if inside.size else 1.0
            ax.imshow(
                image[:, :, z].T,
                cmap="gray",
                origin="lower",
                vmin=0,
                vmax=top,
                aspect=aspect,
                interpolation="nearest",
            )
            ax.set_xticks([])
            ax.set_yticks([])
        for value, colour in ((1, "red"), (2, "cyan")):
            if np.any(labels[:, :, z] == value):
                ax_row[2].contour(
                    (labels[:, :, z] == value).T.astype(float), levels=[0.5], colors=colour, linewidths=0.8
                )
        spacing = "x".join(f"{s:g}" for s in zooms)
        ax_row[0].set_ylabel(
            f"{row['subject_id']} {row['session']}\n{row['site']} ({spacing} mm)\n{row['diagnosis']}, {row['age']:g} y, {row['sex']}",
            color="white",
            fontsize=8,
        )
        for ax, title in zip(ax_row, ("FLAIR", "T1", "FLAIR + WMH (red), other (cyan)"), strict=True):
            ax.set_title(f"{title}  [slice {z}]" if title == "FLAIR" else title, color="white", fontsize=8)
    fig.suptitle("SYNTHETIC cohort (wmhmap generator): not real subjects", color="orange", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, facecolor="black")
    plt.close(fig)
    return path
