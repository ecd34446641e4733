"""Agreement between predicted and reference lesion loads: correlation, ICC and Bland-Altman limits.

Pearson and Spearman correlations from scipy; intraclass correlations from pingouin: ICC(2,1)
(two-way random, absolute agreement; pingouin's ``ICC(A,1)``) and ICC(3,1) (two-way mixed,
consistency; ``ICC(C,1)``), McGraw & Wong 1996 / Shrout & Fleiss 1979. Bland-Altman limits of
agreement (Bland & Altman 1986) on prediction - reference: mean difference +- 1.96 SD (ddof 1).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["MIN_SUBJECTS", "BlandAltman", "bland_altman", "intraclass_correlations", "volume_agreement"]

MIN_SUBJECTS = 3
"""Fewest paired volumes for which the agreement statistics are reported (fewer: NaN)."""

# pingouin >= 0.6 names the single-rater ICCs ICC(A,1)/ICC(C,1); older releases ICC2/ICC3.
_ICC_TYPES = {"icc2_1": ("ICC(A,1)", "ICC2"), "icc3_1": ("ICC(C,1)", "ICC3")}


@dataclass(frozen=True)
class BlandAltman:
    """Bland-Altman statistics of ``prediction - reference``: bias, SD and the 95 % limits of agreement."""

    mean_difference: float
    sd_difference: float
    lower_limit: float
    upper_limit: float


def _pairs(reference: np.ndarray, prediction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two vectors as floats, keeping only pairs where both are finite."""
    reference, prediction = np.asarray(reference, dtype=float), np.asarray(prediction, dtype=float)
    if reference.shape != prediction.shape or reference.ndim != 1:
        raise ValueError(f"expected two vectors of one length, got shapes {reference.shape} and {prediction.shape}")
    keep = np.isfinite(reference) & np.isfinite(prediction)
    return reference[keep], prediction[keep]


def bland_altman(reference: np.ndarray, prediction: np.ndarray) -> BlandAltman:
    """Mean and SD (ddof 1) of ``prediction - reference`` and the limits mean +- 1.96 SD; NaN below 2 pairs."""
    reference, prediction = _pairs(reference, prediction)
    if len(reference) < 2:
        return BlandAltman(*(float("nan"),) * 4)
    difference = prediction - reference
    mean, sd = float(difference.mean()), float(difference.std(ddof=1))
    return BlandAltman(mean, sd, mean - 1.96 * sd, mean + 1.96 * sd)


def intraclass_correlations(reference: np.ndarray, prediction: np.ndarray) -> dict[str, float]:
    """ICC(2,1) and ICC(3,1) of the two measurements of each subject, each with its 95 % CI (pingouin).

    Keys ``icc2_1``, ``icc2_1_ci_low``, ``icc2_1_ci_high`` and the same for ``icc3_1``; NaN with fewer
    than :data:`MIN_SUBJECTS` pairs.
    """
    import pingouin

    reference, prediction = _pairs(reference, prediction)
    result = {f"{key}{suffix}": float("nan") for key in _ICC_TYPES for suffix in ("", "_ci_low", "_ci_high")}
    if len(reference) < MIN_SUBJECTS:
        return result
    n = len(reference)
    long = pd.DataFrame({
        "subject": np.tile(np.arange(n), 2),
        "rater": np.repeat(["reference", "prediction"], n),
        "volume": np.concatenate([reference, prediction]),
    })
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # F = inf when the two ratings agree exactly
        table = pingouin.intraclass_corr(data=long, targets="subject", raters="rater", ratings="volume")
    table = table.set_index("Type")
    ci_column = "CI95" if "CI95" in table.columns else "CI95%"
    for key, names in _ICC_TYPES.items():
        name = next(n for n in names if n in table.index)
        low, high = np.asarray(table.at[name, ci_column], dtype=float)
        result.update({key: float(table.at[name, "ICC"]), f"{key}_ci_low": float(low), f"{key}_ci_high": float(high)})
    return result


def volume_agreement(reference_ml: np.ndarray, prediction_ml: np.ndarray) -> dict[str, float]:
    """All agreement statistics of predicted vs reference volumes (pairs with a NaN are dropped).

    Keys: ``n``, ``reference_mean_ml``, ``prediction_mean_ml``, ``pearson_r``, ``pearson_p``,
    ``spearman_rho``, ``spearman_p``, the ICCs of :func:`intraclass_correlations` and the Bland-Altman
    ``ba_mean_difference``, ``ba_sd_difference``, ``ba_lower_limit``, ``ba_upper_limit`` (mL).
    Correlations are NaN with fewer than :data:`MIN_SUBJECTS` pairs or a constant vector.
    """
    reference, prediction = _pairs(reference_ml, prediction_ml)
    n = len(reference)
    result: dict[str, float] = {
        "n": float(n),
        "reference_mean_ml": float(reference.mean()) if n else float("nan"),
        "prediction_mean_ml": float(prediction.mean()) if n else float("nan"),
    }
    constant = n == 0 or np.ptp(reference) == 0 or np.ptp(prediction) == 0
    if n < MIN_SUBJECTS or constant:
        result.update(pearson_r=float("nan"), pearson_p=float("nan"), spearman_rho=float("nan"),
                      spearman_p=float("nan"))
    else:
        pearson, spearman = stats.pearsonr(reference, prediction), stats.spearmanr(reference, prediction)
        result.update(pearson_r=float(pearson[0]), pearson_p=float(pearson[1]),
                      spearman_rho=float(spearman[0]), spearman_p=float(spearman[1]))
    result.update(intraclass_correlations(reference, prediction))
    limits = bland_altman(reference, prediction)
    result.update(ba_mean_difference=limits.mean_difference, ba_sd_difference=limits.sd_difference,
                  ba_lower_limit=limits.lower_limit, ba_upper_limit=limits.upper_limit)
    return result
