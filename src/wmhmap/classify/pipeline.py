"""The model a feature set is scored with: a scikit-learn Pipeline of optional ComBat harmonisation,
median imputation, optional standard scaling and the classifier built from config (``_target_``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from wmhmap.classify.harmonise import ComBatHarmoniser

__all__ = ["build_pipeline", "decision_scores"]


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


def build_pipeline(
    classifier: Mapping[str, Any],
    harmonise_covariates: Sequence[str] | None = None,
    passthrough: Sequence[str] = (),
) -> Pipeline:
    """Pipeline ``[harmonise] -> impute -> [scale] -> clf`` from a classifier config node.

    ``classifier`` holds ``estimator`` (a ``_target_`` node), ``impute`` (a SimpleImputer strategy)
    and ``scale`` (bool). ``harmonise_covariates`` (None = no ComBat) names the covariates ComBat
    keeps; ``passthrough`` lists feature columns ComBat must not alter (age, sex). Transformers output
    DataFrames so row ids survive to every step.
    """
    classifier = _plain(classifier)
    steps: list[tuple[str, Any]] = []
    if harmonise_covariates is not None:
        steps.append(("harmonise", ComBatHarmoniser(covariates=tuple(harmonise_covariates), passthrough=tuple(passthrough))))
    steps.append(("impute", SimpleImputer(strategy=classifier.get("impute", "median"), keep_empty_features=True)))
    if classifier.get("scale", True):
        steps.append(("scale", StandardScaler()))
    steps.append(("clf", instantiate(classifier["estimator"])))
    pipeline = Pipeline(steps)
    pipeline.set_output(transform="pandas")
    return pipeline


def decision_scores(model: Any, X: Any) -> np.ndarray:
    """Positive-class scores for ROC analysis: ``predict_proba[:, 1]`` when available, else ``decision_function``."""
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(X))[:, 1]
    return np.asarray(model.decision_function(X))
