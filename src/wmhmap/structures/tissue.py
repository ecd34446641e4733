"""Tissue segmentation (CSF, GM, WM) of a T1 (or FLAIR) inside the brain: a three-class Gaussian mixture
on intensities whose per-voxel class weights are template tissue priors propagated to the subject,
fitted by EM (the "unified segmentation" idea of Ashburner & Friston 2005, without bias or warp
updates). WMH voxels are left out of the fit and labelled white matter."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TISSUES", "TissueSegmentation", "segment_tissues"]

TISSUES: tuple[str, ...] = ("csf", "gm", "wm")
"""Class order of the priors and of the labels (label = position + 1; 0 outside the brain)."""


@dataclass(frozen=True)
class TissueSegmentation:
    """Hard labels (0 outside the brain, 1 CSF, 2 GM, 3 WM) and the fitted class means / SDs
    (in the robustly normalised intensity units used for the fit)."""

    labels: np.ndarray
    means: tuple[float, float, float]
    sds: tuple[float, float, float]

    def mask(self, tissue: str) -> np.ndarray:
        """Boolean mask of one tissue ('csf', 'gm' or 'wm')."""
        return self.labels == TISSUES.index(tissue) + 1

    def volumes_ml(self, voxel_ml: float) -> dict[str, float]:
        """Tissue volumes in mL."""
        counts = np.bincount(self.labels.reshape(-1), minlength=4)
        return {name: float(counts[i + 1]) * voxel_ml for i, name in enumerate(TISSUES)}


def segment_tissues(
    image: np.ndarray,
    brain: np.ndarray,
    priors: np.ndarray,
    exclude: np.ndarray | None = None,
    iterations: int = 20,
    prior_floor: float = 0.02,
    tolerance: float = 1e-4,
) -> TissueSegmentation:
    """Label every ``brain`` voxel CSF, GM or WM.

    ``priors`` has shape (3, *image.shape) in :data:`TISSUES` order (e.g. template GM/WM maps and
    CSF = mask - GM - WM, brought to the subject); each is floored at ``prior_floor`` so intensities
    can overrule a misregistered prior. Class means and variances start from the prior-weighted
    moments and are refined by EM; the posterior arg-max gives the label. ``exclude`` voxels (WMH) do
    not enter the fit and are labelled WM. Works for any contrast: the priors decide which class is
    which, not the intensity order.
    """
    image = np.asarray(image, dtype=np.float32)
    brain = np.asarray(brain, dtype=bool)
    if priors.shape != (3, *image.shape):
        raise ValueError(f"priors must have shape (3, *{image.shape}), got {priors.shape}")
    labels = np.zeros(image.shape, dtype=np.uint8)
    fit = brain if exclude is None else brain & ~np.asarray(exclude, dtype=bool)
    if fit.sum() < 30:
        raise ValueError(f"only {int(fit.sum())} brain voxel(s) to segment")
    values = image[fit].astype(np.float64)
    low, high = np.percentile(values, [0.5, 99.5])
    scale = high - low if high > low else 1.0
    values = (values - low) / scale
    weights = np.clip(priors[:, fit].astype(np.float64), 0.0, None) + prior_floor
    weights /= weights.sum(axis=0, keepdims=True)

    responsibilities = weights
    previous = -np.inf
    for _ in range(max(1, iterations)):
        totals = responsibilities.sum(axis=1) + 1e-12
        means = (responsibilities @ values) / totals
        variances = np.einsum("kn,kn->k", responsibilities, (values[None, :] - means[:, None]) ** 2) / totals
        variances = np.maximum(variances, 1e-6)
        log_lik = -0.5 * ((values[None, :] - means[:, None]) ** 2 / variances[:, None] + np.log(2 * np.pi * variances[:, None]))
        joint = np.log(weights) + log_lik
        peak = joint.max(axis=0, keepdims=True)
        evidence = peak + np.log(np.exp(joint - peak).sum(axis=0, keepdims=True))
        responsibilities = np.exp(joint - evidence)
        objective = float(evidence.mean())
        if objective - previous < tolerance:
            break
        previous = objective

    labels[fit] = (np.argmax(responsibilities, axis=0) + 1).astype(np.uint8)
    if exclude is not None:
        labels[brain & np.asarray(exclude, dtype=bool)] = TISSUES.index("wm") + 1
    return TissueSegmentation(labels, tuple(float(m) for m in means), tuple(float(np.sqrt(v)) for v in variances))
