"""ComBat harmonisation of features across sites as a scikit-learn transformer (neuroHarmonize),
so that, inside a Pipeline, it is fitted on training folds only.

How the site gets through a Pipeline: X is a DataFrame that carries ``meta__site`` (and
``meta__<covariate>`` for each ComBat covariate, e.g. ``meta__age``) beside the features; see
``wmhmap.classify.features.build_features(meta=...)``. This step reads them, harmonises every other
column except ``passthrough`` ones (demographic features such as age and sex are not scanner
measurements), and returns the features without the ``meta__`` columns. Rows from a site with fewer
than two training rows, or with a missing covariate, are passed through unharmonised (ComBat has no
estimate for them); the fit uses complete rows only.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from wmhmap.classify.features import META_PREFIX

__all__ = ["ComBatHarmoniser"]

log = logging.getLogger(__name__)


class ComBatHarmoniser(TransformerMixin, BaseEstimator):
    """Remove site effects (location and scale, empirical Bayes) from features, keeping covariate effects."""

    def __init__(self, covariates: Sequence[str] = (), passthrough: Sequence[str] = (), empirical_bayes: bool = True):
        self.covariates = covariates
        self.passthrough = passthrough
        self.empirical_bayes = empirical_bayes

    def _split(self, X: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame, list[str]]:
        if not isinstance(X, pd.DataFrame) or f"{META_PREFIX}site" not in X.columns:
            raise ValueError(f"ComBatHarmoniser needs a DataFrame with a '{META_PREFIX}site' column")
        covars = pd.DataFrame({c: X[f"{META_PREFIX}{c}"].astype(float) for c in self.covariates}, index=X.index)
        harmonised = [c for c in X.columns if not c.startswith(META_PREFIX) and c not in set(self.passthrough)]
        return X[f"{META_PREFIX}site"].astype(str), covars, harmonised

    def _usable(self, site: pd.Series, covars: pd.DataFrame, data: pd.DataFrame, sites: Sequence[str]) -> np.ndarray:
        return (site.isin(sites) & covars.notna().all(axis=1) & data.notna().all(axis=1)).to_numpy()

    def fit(self, X: pd.DataFrame, y: object = None) -> ComBatHarmoniser:
        """Learn ComBat site parameters from the complete rows of sites with at least two rows."""
        from neuroHarmonize import harmonizationLearn

        site, covars, harmonised = self._split(X)
        counts = site.value_counts()
        self.sites_ = sorted(counts.index[counts >= 2])
        self.harmonised_ = harmonised
        self.feature_names_out_ = np.array([c for c in X.columns if not c.startswith(META_PREFIX)], dtype=object)
        usable = self._usable(site, covars, X[harmonised], self.sites_)
        self.model_ = None
        if len(set(site[usable])) < 2 or not harmonised:
            log.warning("ComBat skipped: fewer than two sites with two or more complete training rows")
            return self
        covariates = covars[usable].assign(SITE=site[usable].to_numpy())
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore", PendingDeprecationWarning)  # neuroHarmonize uses np.matrix
            self.model_, _ = harmonizationLearn(X.loc[usable, harmonised].to_numpy(float), covariates,
                                                eb=self.empirical_bayes and len(harmonised) > 1)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Harmonised features (``meta__`` columns removed); rows ComBat cannot adjust pass through."""
        from neuroHarmonize import harmonizationApply

        site, covars, harmonised = self._split(X)
        out = X[list(self.feature_names_out_)].astype(float).copy()
        if self.model_ is None:
            return out
        usable = self._usable(site, covars, X[harmonised], list(self.model_["SITE_labels"]))
        if (~usable).any():
            log.info("ComBat: %d row(s) passed through (unseen site or missing values)", int((~usable).sum()))
        if usable.any():
            covariates = covars[usable].assign(SITE=site[usable].to_numpy())
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore", PendingDeprecationWarning)
                adjusted = harmonizationApply(X.loc[usable, harmonised].to_numpy(float), covariates, self.model_)
            out.loc[usable, harmonised] = adjusted
        return out

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """Output columns: the input columns without ``meta__`` ones."""
        return self.feature_names_out_
