"""Per-region association with diagnosis: logistic regression of diagnosis on one z-scored region
adjusted for covariates (age, sex, ICV), odds ratio per SD with its 95% CI, p and FDR q; and the
region's selection stability, the share of outer training folds in which an L1 logistic model keeps it."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler
from statsmodels.tools.sm_exceptions import ConvergenceWarning as SMConvergenceWarning
from statsmodels.tools.sm_exceptions import PerfectSeparationError, PerfectSeparationWarning

from wmhmap.classify.metrics import roc_auc
from wmhmap.classify.stats import adjust_pvalues

__all__ = ["region_association", "region_associations", "l1_selection_stability"]


def _zscore(values: pd.Series) -> pd.Series:
    sd = values.std(ddof=1)
    return (values - values.mean()) / sd if sd > 0 else values * np.nan


def region_association(region: pd.Series, y: np.ndarray, covariates: pd.DataFrame, level: float = 0.95) -> dict:
    """Odds ratio per SD of ``region`` for y = 1, adjusted for ``covariates`` (continuous ones z-scored);
    complete cases only. NaN estimates (with a note) when the model cannot be fitted."""
    data = pd.concat([region.rename("region"), covariates], axis=1).assign(y=np.asarray(y))
    data = data.dropna()
    out = {"n": int(len(data)), "odds_ratio": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p": np.nan, "note": ""}
    if data["y"].nunique() < 2 or len(data) <= covariates.shape[1] + 2:
        out["note"] = "too few complete cases"
        return out
    exog = pd.DataFrame(index=data.index)
    for column in ["region", *covariates.columns]:
        values = data[column].astype(float)
        binary = values.nunique() <= 2
        exog[column] = values if binary and column != "region" else _zscore(values)
    if exog["region"].isna().all():
        out["note"] = "region has no variance"
        return out
    exog = sm.add_constant(exog, has_constant="add").dropna(axis=1, how="all")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (SMConvergenceWarning, PerfectSeparationWarning, RuntimeWarning))
            fit = sm.Logit(data["y"].astype(float), exog).fit(disp=0, maxiter=200)
    except (PerfectSeparationError, np.linalg.LinAlgError) as exc:
        out["note"] = f"not estimable ({type(exc).__name__})"
        return out
    beta, se = float(fit.params["region"]), float(fit.bse["region"])
    z = stats.norm.ppf(0.5 + level / 2.0)
    out.update(odds_ratio=np.exp(beta), ci_low=np.exp(beta - z * se), ci_high=np.exp(beta + z * se),
               p=float(fit.pvalues["region"]))
    if not fit.mle_retvals.get("converged", True):
        out["note"] = "did not converge"
    return out


def region_associations(regions: pd.DataFrame, y: np.ndarray, covariates: pd.DataFrame,
                        correction: str = "fdr_bh", level: float = 0.95) -> pd.DataFrame:
    """One row per region column: n, odds ratio per SD, CI, p, corrected q (``correction`` across regions), note."""
    rows = [{"region": name, **region_association(regions[name], y, covariates, level)} for name in regions.columns]
    table = pd.DataFrame(rows)
    table.insert(table.columns.get_loc("p") + 1, "q", adjust_pvalues(table["p"].to_numpy(), correction))
    return table


def _l1_model(C: float, seed: int) -> LogisticRegression:
    return LogisticRegression(C=C, l1_ratio=1.0, solver="liblinear", class_weight="balanced", random_state=seed)


def l1_selection_stability(
    regions: pd.DataFrame,
    y: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    C: float | None = None,
    Cs: Sequence[float] = tuple(np.logspace(-2, 1, 8)),
    inner_folds: int = 5,
    seed: int = 0,
) -> pd.Series:
    """Share of the training sets in ``splits`` in which an L1 logistic model (median-imputed, scaled,
    fitted on the training rows only) gives a region a non-zero coefficient.

    ``C`` fixes the penalty; None picks it per training set from ``Cs`` by inner stratified CV AUC.
    """
    y = np.asarray(y).astype(int)
    selected = np.zeros(regions.shape[1])
    for i, (train, _test) in enumerate(splits):
        X = StandardScaler().fit_transform(SimpleImputer(strategy="median", keep_empty_features=True)
                                           .fit_transform(regions.iloc[train]))
        y_train = y[train]
        chosen = C if C is not None else _choose_C(X, y_train, Cs, inner_folds, seed + i)
        model = _l1_model(chosen, seed).fit(X, y_train)
        selected += np.abs(model.coef_.ravel()) > 0
    return pd.Series(selected / max(len(splits), 1), index=regions.columns, name="stability")


def _choose_C(X: np.ndarray, y: np.ndarray, Cs: Sequence[float], n_folds: int, seed: int) -> float:
    n_folds = max(2, min(n_folds, int(np.bincount(y).min())))
    folds = list(StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(X, y))
    scores = []
    for C in Cs:
        aucs = []
        for tr, va in folds:
            model = _l1_model(C, seed).fit(X[tr], y[tr])
            aucs.append(roc_auc(y[va], model.decision_function(X[va])))
        scores.append(np.mean(aucs))
    return float(Cs[int(np.argmax(scores))])
