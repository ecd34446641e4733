"""Intensity normalisation: z-score of one modality within the brain mask, background set to 0."""

from __future__ import annotations

import numpy as np

__all__ = ["zscore_within_mask"]


def zscore_within_mask(volume: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(X, Y, Z) float32: ``volume`` minus its mean inside ``mask``, over its standard deviation there; 0 outside.

    Raises ValueError when the mask is empty or the volume is constant inside it (nothing to scale by).
    """
    inside = np.asarray(mask, dtype=bool)
    if not inside.any():
        raise ValueError("empty brain mask: nothing to normalise within")
    values = volume[inside].astype(np.float64)
    mean, std = values.mean(), values.std()
    if not std > 0:
        raise ValueError(f"intensity is constant ({mean:g}) inside the brain mask")
    out = np.zeros(volume.shape, dtype=np.float32)
    out[inside] = ((values - mean) / std).astype(np.float32)
    return out
