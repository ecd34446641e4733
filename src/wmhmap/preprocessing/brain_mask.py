"""A simple brain mask for when none is given: threshold, largest component, closing, hole filling.

A fallback for images that are already skull-stripped (or a bright object on a dark background),
not a skull-stripper: give a real brain mask in the manifest when the images still hold the head.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["otsu_threshold", "foreground", "largest_component", "fill_holes", "compute_brain_mask"]

ZERO_FILLED_FRACTION = 0.1
"""An image with at least this fraction of exact zeros is taken as zero-filled (skull-stripped) outside the brain."""


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold (Otsu 1979): the histogram cut maximising the between-class variance."""
    values = np.asarray(values, dtype=np.float64).ravel()
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return lo
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)[:-1]
    weight_high = counts.sum() - weight_low
    mass_low = np.cumsum(counts * centres)[:-1]
    mean_low = mass_low / np.maximum(weight_low, 1)
    mean_high = (np.sum(counts * centres) - mass_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(edges[1:-1][int(np.argmax(between))])


def foreground(image: np.ndarray) -> np.ndarray:
    """Voxels above the background: non-zero for a zero-filled (skull-stripped) image, else above Otsu's threshold."""
    if np.count_nonzero(image == 0) >= ZERO_FILLED_FRACTION * image.size:
        return image != 0
    return image > otsu_threshold(image)


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 6-connected component of ``mask`` (all False if it is empty)."""
    labels, n = ndimage.label(mask)
    if n == 0:
        return np.zeros(mask.shape, dtype=bool)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill background pockets that do not reach the image border (one labelling pass, fast on big volumes)."""
    background, n = ndimage.label(~mask)
    faces = [background[i] for i in (0, -1)] + [background[:, i] for i in (0, -1)] + [background[:, :, i] for i in (0, -1)]
    outside = np.zeros(n + 1, dtype=bool)
    outside[np.concatenate([f.ravel() for f in faces])] = True
    return mask | ~outside[background]


def compute_brain_mask(image: np.ndarray, closing_iterations: int = 2) -> np.ndarray:
    """A brain mask (uint8) from an (X, Y, Z) or (C, X, Y, Z) image: union of every channel's foreground,
    largest component, a small closing (``closing_iterations`` voxels, closes sulci) and hole filling."""
    channels = image.reshape((-1, *image.shape[-3:]))
    mask = np.zeros(channels.shape[1:], dtype=bool)
    for channel in channels:
        mask |= foreground(channel)
    mask = largest_component(mask)
    if not mask.any():
        return mask.astype(np.uint8)
    # Close and fill only around the brain: the rest of the volume cannot change.
    pad = max(closing_iterations, 0) + 1
    box = tuple(slice(max(s.start - pad, 0), s.stop + pad) for s in ndimage.find_objects(mask.astype(np.uint8))[0])
    region = np.pad(mask[box], pad)
    if closing_iterations > 0:
        region = ndimage.binary_closing(region, ndimage.generate_binary_structure(3, 1), iterations=closing_iterations)
    out = np.zeros(mask.shape, dtype=np.uint8)
    out[box] = fill_holes(region)[pad:-pad, pad:-pad, pad:-pad]
    return out
