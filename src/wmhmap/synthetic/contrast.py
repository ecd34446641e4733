"""MR contrast from tissue fractions: a partial-volume mix of per-tissue intensities, a smooth
multiplicative bias field and Rician noise, as one site's scanner would produce."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["mix_intensities", "bias_field", "rician", "synthesise"]


def mix_intensities(fractions: Mapping[str, np.ndarray], intensities: Mapping[str, float]) -> np.ndarray:
    """Noise-free intensity: lesion fractions replace normal tissue, which mixes CSF, GM and WM by fraction.

    ``fractions`` holds csf, gm, wm (tissue probabilities) and wmh, other (lesion fractions, 0..1)."""
    csf, gm, wm = fractions["csf"], fractions["gm"], fractions["wm"]
    tissue = csf + gm + wm
    lesion = np.clip(fractions["wmh"] + fractions["other"], 0.0, 1.0)
    share = np.where(lesion > 0, lesion / np.maximum(fractions["wmh"] + fractions["other"], 1e-6), 0.0)
    normal = csf * intensities["csf"] + gm * intensities["gm"] + wm * intensities["wm"]
    abnormal = share * (fractions["wmh"] * intensities["wmh"] + fractions["other"] * intensities["other"])
    return ((1.0 - lesion) * normal + abnormal * tissue).astype(np.float32)


def bias_field(rng: np.random.Generator, points: np.ndarray, sd: float) -> np.ndarray:
    """A smooth multiplicative field exp(p(x)) with p a random quadratic in the coordinates (3, N),
    scaled so that p has standard deviation ``sd`` over the points."""
    if sd <= 0 or points.shape[1] == 0:
        return np.ones(points.shape[1], dtype=np.float32)
    centred = (points - points.mean(axis=1, keepdims=True)) / max(float(points.std()), 1e-6)
    x, y, z = centred
    terms = np.stack([x, y, z, x * x, y * y, z * z, x * y, x * z, y * z])
    poly = rng.normal(size=terms.shape[0]) @ terms
    poly = (poly - poly.mean()) / max(float(poly.std()), 1e-9) * sd
    return np.exp(poly).astype(np.float32)


def rician(rng: np.random.Generator, signal: np.ndarray, sigma: float) -> np.ndarray:
    """Magnitude of the signal plus complex Gaussian noise of standard deviation ``sigma`` per channel."""
    real = signal + rng.normal(0.0, sigma, signal.shape)
    imaginary = rng.normal(0.0, sigma, signal.shape)
    return np.hypot(real, imaginary).astype(np.float32)


def synthesise(
    rng: np.random.Generator,
    fractions: Mapping[str, np.ndarray],
    points: np.ndarray,
    intensities: Mapping[str, float],
    noise: float,
    bias: float,
    scale: float,
) -> np.ndarray:
    """One modality's voxel intensities (flat, positive): mix, bias field, Rician noise (sd relative to WM), scale."""
    clean = mix_intensities(fractions, intensities) * bias_field(rng, points, bias)
    noisy = rician(rng, clean, noise * intensities["wm"])
    return np.maximum(noisy, 1e-3 * intensities["wm"]) * np.float32(scale)
