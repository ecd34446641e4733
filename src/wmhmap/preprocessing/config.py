"""The preprocessing settings (mirrored by conf/preprocessing/*.yaml) and their resolution against a cohort."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = ["MODALITIES", "PreprocessConfig", "parse_spacing", "preprocess_config"]

MODALITIES: tuple[str, ...] = ("flair", "t1")
"""Intensity images a manifest row can hold, by column name."""

_AXIS_PAIRS = ("LR", "PA", "IS")
_BRAIN_MASK_MODES = ("given", "compute", "auto")
_NORMALISATIONS = ("zscore", "none")
_ON_MISMATCH = ("error", "resample")


def _check_orientation(codes: str) -> str:
    codes = str(codes).upper()
    axes = sorted(next((i for i, pair in enumerate(_AXIS_PAIRS) if c in pair), -1) for c in codes)
    if len(codes) != 3 or axes != [0, 1, 2]:
        raise ValueError(f"orientation {codes!r} must name each of L/R, A/P, S/I once (e.g. 'RAS', 'LPS')")
    return codes


def parse_spacing(value: Any) -> tuple[float, float, float] | str | None:
    """A target spacing as three mm values from a number or three numbers; None and "median" pass through."""
    if value is None or value == "median":
        return value
    if isinstance(value, str):
        raise ValueError(f"target_spacing {value!r}: expected null, 'median', a number or three numbers (mm)")
    values = [float(value)] * 3 if isinstance(value, int | float) else [float(v) for v in value]
    if len(values) != 3 or not all(v > 0 for v in values):
        raise ValueError(f"target_spacing {value!r}: expected three positive spacings in mm")
    return tuple(values)  # type: ignore[return-value]


@dataclass(frozen=True)
class PreprocessConfig:
    """How images become network input: canonical orientation -> brain mask -> crop -> resampling -> z-score.

    ``target_spacing``: mm per canonical axis, a number (isotropic), None (keep each image's spacing) or
    "median" (the cohort's median, as in nnU-Net/Yucca; resolved by :func:`preprocess_config`).
    ``brain_mask``: "given" (the manifest's brain_mask, required), "compute" (a threshold-based fallback,
    see :func:`~wmhmap.preprocessing.brain_mask.compute_brain_mask`) or "auto" (given when present).
    ``crop_margin_mm``: crop to the brain's bounding box plus this margin; None keeps the whole grid.
    ``on_mismatch``: what :func:`wmhmap.data.subject.load_subject` does with images off the FLAIR grid.
    """

    orientation: str = "RAS"
    target_spacing: tuple[float, float, float] | str | None = "median"
    modalities: tuple[str, ...] = MODALITIES
    brain_mask: str = "auto"
    normalise: str = "zscore"
    crop_margin_mm: float | None = 4.0
    on_mismatch: str = "error"

    def __post_init__(self) -> None:
        modalities = (self.modalities,) if isinstance(self.modalities, str) else tuple(self.modalities)
        modalities = tuple(str(m).lower() for m in modalities)
        unknown = [m for m in modalities if m not in MODALITIES]
        if not modalities or unknown or len(set(modalities)) != len(modalities):
            raise ValueError(f"modalities {list(modalities)}: expected distinct names from {list(MODALITIES)}")
        for name, value, allowed in (
            ("brain_mask", self.brain_mask, _BRAIN_MASK_MODES),
            ("normalise", self.normalise, _NORMALISATIONS),
            ("on_mismatch", self.on_mismatch, _ON_MISMATCH),
        ):
            if value not in allowed:
                raise ValueError(f"{name} {value!r}: expected one of {list(allowed)}")
        margin = self.crop_margin_mm
        if margin is not None and not float(margin) >= 0:
            raise ValueError(f"crop_margin_mm {margin!r}: expected a non-negative number of mm or null")
        object.__setattr__(self, "orientation", _check_orientation(self.orientation))
        object.__setattr__(self, "target_spacing", parse_spacing(self.target_spacing))
        object.__setattr__(self, "modalities", modalities)
        object.__setattr__(self, "crop_margin_mm", None if margin is None else float(margin))

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> PreprocessConfig:
        """Build from a plain mapping or an OmegaConf node (lists become tuples); unknown keys are an error."""
        if not isinstance(mapping, dict):
            from omegaconf import DictConfig, OmegaConf

            mapping = OmegaConf.to_container(mapping, resolve=True) if isinstance(mapping, DictConfig) else dict(mapping)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(mapping) - names)
        if unknown:
            raise ValueError(f"unknown preprocessing setting(s) {unknown}; known: {sorted(names)}")
        return cls(**mapping)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able fields (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    def fingerprint(self) -> str:
        """A stable hash of every field, for cache keys."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()


def preprocess_config(
    settings: PreprocessConfig | Mapping[str, Any], manifest: pd.DataFrame | None = None
) -> PreprocessConfig:
    """A validated config with ``target_spacing="median"`` replaced by the median spacing of ``manifest``'s FLAIRs.

    The median is taken over every row (not one split), so all folds of a cohort share one cache.
    """
    config = settings if isinstance(settings, PreprocessConfig) else PreprocessConfig.from_dict(settings)
    if config.target_spacing != "median":
        return config
    if manifest is None or len(manifest) == 0:
        raise ValueError("target_spacing='median' needs the manifest of the cohort to take the median of")
    from wmhmap.preprocessing.spacing import median_spacing

    return dataclasses.replace(config, target_spacing=median_spacing(manifest, config.orientation))
