"""Nested cross-validation: repeated stratified outer folds grouped by subject, Optuna (TPE) tuning
of the pipeline on inner stratified group folds scored by ROC AUC, refit on the outer training set,
prediction of the outer test fold.

Resumable: each inner study is recorded in an RDB storage (SQLite under the run directory) under a
name keyed by feature set, repeat, fold and a fingerprint of data, pipeline and search space, so an
interrupted run continues its studies (completed trials are not redone); each finished outer fold's
predictions are cached as JSON and reused (nothing refitted). The sampler works on an in-memory copy
of the study, seeded from the record, and every finished trial is written through to the record at
once: the same trials and durability as optimising on the RDB study directly, without its tens of
milliseconds of queries per trial (TPE and the pruner re-read all trials at every step). Speed: preprocessing has no tuned
parameters when the search space only targets the classifier, so it is fitted once per inner fold
and only the classifier is refitted per trial; BLAS threads are limited to one (small problems run
tens of times slower with a multi-threaded BLAS); median pruning stops poor trials after a fold or two.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import optuna
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sqlalchemy import event
from threadpoolctl import threadpool_limits

from wmhmap.classify.metrics import roc_auc
from wmhmap.classify.pipeline import decision_scores
from wmhmap.classify.search_space import pipeline_param, suggest_params
from wmhmap.errors import WmhmapError
from wmhmap.io.atomic import atomic_path

__all__ = ["CVSettings", "FoldOutcome", "NestedCVResult", "open_study_storage", "stratified_group_splits", "nested_cv"]

log = logging.getLogger(__name__)
_FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


@dataclass(frozen=True)
class CVSettings:
    """Outer folds x repeats, inner folds, Optuna trials per outer fold, seed, median pruning, BLAS threads."""

    outer_folds: int = 5
    repeats: int = 1
    inner_folds: int = 5
    n_trials: int = 50
    seed: int = 0
    pruning: bool = True
    blas_threads: int | None = 1


@dataclass(frozen=True)
class FoldOutcome:
    """One outer fold: its test rows (positions in X), their scores and 0/1 predictions, the tuned parameters."""

    repeat: int
    fold: int
    test_rows: list[int]
    scores: list[float]
    predictions: list[int]
    params: dict[str, Any]
    inner_auc: float
    test_auc: float
    n_train: int
    n_test: int
    study_name: str
    new_trials: int = 0
    from_cache: bool = False


@dataclass
class NestedCVResult:
    """Out-of-fold scores and predictions per repeat (repeats x rows) and the outcome of every outer fold."""

    y: np.ndarray
    scores: np.ndarray
    predictions: np.ndarray
    folds: list[FoldOutcome] = field(default_factory=list)

    @property
    def fold_aucs(self) -> np.ndarray:
        """Test AUC of each outer fold, in (repeat, fold) order."""
        return np.array([f.test_auc for f in self.folds])

    @property
    def new_trials(self) -> int:
        """Optuna trials run by this call (0 when everything was resumed or cached)."""
        return sum(f.new_trials for f in self.folds)


def open_study_storage(path: str | Path) -> optuna.storages.RDBStorage:
    """An Optuna SQLite storage at ``path`` in WAL mode with normal sync: safe against a killed process and
    about six times faster per trial than SQLite's default full sync."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    storage = optuna.storages.RDBStorage(f"sqlite:///{path.absolute()}")

    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(storage.engine, "connect", _pragmas)
    storage.engine.dispose()
    return storage


def stratified_group_splits(
    y: np.ndarray, groups: np.ndarray, n_folds: int, seed: int, what: str = "outer"
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) positions of a shuffled StratifiedGroupKFold: no group on both sides of a split."""
    per_class = pd.Series(groups).groupby(np.asarray(y)).nunique()
    if n_folds < 2 or per_class.size < 2 or per_class.min() < n_folds:
        raise WmhmapError(
            f"{what} cross-validation with {n_folds} folds needs at least {n_folds} subjects per class "
            f"(subjects per class: {per_class.to_dict()})"
        )
    if per_class.sum() == len(y):  # one row per group: the same folds, without the slow group search
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(len(y)), y))
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y, groups))


class _InnerProblem:
    """The inner folds of one outer training set; scores a parameter set by mean inner ROC AUC.

    When every tuned parameter belongs to the final step ``clf``, the preprocessing is fitted once
    per inner fold (on that fold's training rows only) and reused across trials.
    """

    def __init__(self, X: pd.DataFrame, y: np.ndarray, groups: np.ndarray, pipeline: Pipeline,
                 space: Mapping[str, Any], n_folds: int, seed: int):
        per_class = pd.Series(groups).groupby(y).nunique().min()
        n_folds = min(n_folds, int(per_class))
        self.folds = stratified_group_splits(y, groups, n_folds, seed, what="inner")
        self.pipeline = pipeline
        self.cached = pipeline.steps[-1][0] == "clf" and len(pipeline) > 1 and all(
            "__" not in name or name.startswith("clf__") for name in space
        )
        self.data: list[tuple[Any, np.ndarray, Any, np.ndarray]] = []
        for train, valid in self.folds:
            if self.cached:
                preprocess = clone(pipeline[:-1])
                X_train = np.asarray(preprocess.fit_transform(X.iloc[train], y[train]))
                X_valid = np.asarray(preprocess.transform(X.iloc[valid]))
            else:
                X_train, X_valid = X.iloc[train], X.iloc[valid]
            self.data.append((X_train, y[train], X_valid, y[valid]))

    def _model(self, params: dict[str, Any]) -> Any:
        if self.cached:
            return clone(self.pipeline.steps[-1][1]).set_params(**{k[len("clf__"):]: v for k, v in params.items()})
        return clone(self.pipeline).set_params(**params)

    def objective(self, trial: optuna.Trial, space: Mapping[str, Any], prune: bool) -> float:
        params = suggest_params(trial, space)
        aucs = []
        for step, (X_train, y_train, X_valid, y_valid) in enumerate(self.data):
            model = self._model(params).fit(X_train, y_train)
            aucs.append(roc_auc(y_valid, decision_scores(model, X_valid)))
            if prune and step < len(self.data) - 1:
                trial.report(float(np.mean(aucs)), step)
                if trial.should_prune():
                    raise optuna.TrialPruned()
        return float(np.mean(aucs))


def _fingerprint(X: pd.DataFrame, y: np.ndarray, groups: np.ndarray, pipeline: Pipeline,
                 space: Mapping[str, Any], settings: CVSettings) -> str:
    keyed = {k: v for k, v in asdict(settings).items() if k not in ("n_trials", "blas_threads")}
    return joblib.hash((X, y, groups, pipeline, {k: dict(v) for k, v in space.items()}, keyed))[:12]


def _tune_and_predict(X: pd.DataFrame, y: np.ndarray, groups: np.ndarray, train: np.ndarray, test: np.ndarray,
                      pipeline: Pipeline, space: Mapping[str, Any], settings: CVSettings,
                      storage: optuna.storages.BaseStorage | None, study_name: str, seed: int,
                      repeat: int, fold: int) -> FoldOutcome:
    """Tune on the inner folds of ``train`` (resuming the study if it exists), refit the best, predict ``test``."""
    problem = _InnerProblem(X.iloc[train], y[train], groups[train], pipeline, space, settings.inner_folds, seed)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1) if settings.pruning else optuna.pruners.NopPruner()
    study = optuna.create_study(direction="maximize", pruner=pruner,
                                sampler=optuna.samplers.TPESampler(seed=seed, constant_liar=False))
    record = None
    if storage is not None:
        record = optuna.create_study(storage=storage, study_name=study_name, direction="maximize", load_if_exists=True)
        study.add_trials(record.get_trials(deepcopy=False, states=_FINISHED))
    remaining = max(0, settings.n_trials - len(study.trials))
    if remaining:
        def write_through(_study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            if record is not None and trial.state in _FINISHED:
                record.add_trial(trial)

        study.optimize(lambda trial: problem.objective(trial, space, settings.pruning), n_trials=remaining,
                       callbacks=[write_through])
    best = study.best_trial
    params = {name: best.params[name] for name in space}
    model = clone(pipeline).set_params(**{pipeline_param(k): v for k, v in params.items()})
    model.fit(X.iloc[train], y[train])
    scores = decision_scores(model, X.iloc[test])
    predictions = np.asarray(model.predict(X.iloc[test])).astype(int)
    test_auc = roc_auc(y[test], scores) if np.unique(y[test]).size == 2 else float("nan")
    return FoldOutcome(
        repeat=repeat, fold=fold, test_rows=test.tolist(), scores=scores.tolist(), predictions=predictions.tolist(),
        params=params, inner_auc=float(best.value), test_auc=float(test_auc), n_train=int(train.size),
        n_test=int(test.size), study_name=study_name, new_trials=remaining,
    )


def nested_cv(
    X: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    pipeline: Pipeline,
    search_space: Mapping[str, Mapping[str, Any]],
    settings: CVSettings,
    *,
    storage: optuna.storages.BaseStorage | None = None,
    study_prefix: str = "nested_cv",
    cache_dir: str | Path | None = None,
    progress: Any = None,
) -> NestedCVResult:
    """Out-of-fold scores of ``pipeline`` tuned by Optuna inside each outer fold.

    ``groups`` (subject ids) keep all rows of a subject on one side of every split, outer and inner.
    ``storage`` (see ``open_study_storage``; None = in memory) holds one study per outer fold named
    ``<study_prefix>/r<repeat>/f<fold>/<fingerprint>``; ``cache_dir`` holds finished folds. ``progress``
    (a tqdm bar) is advanced once per outer fold.
    """
    y = np.asarray(y).astype(int)
    groups = np.asarray(groups)
    if settings.n_trials < 1:
        raise ValueError(f"n_trials must be at least 1, got {settings.n_trials}")
    fingerprint = _fingerprint(X, y, groups, pipeline, search_space, settings)
    cache = Path(cache_dir) if cache_dir is not None else None
    scores = np.full((settings.repeats, len(y)), np.nan)
    predictions = np.full((settings.repeats, len(y)), -1)
    result = NestedCVResult(y=y, scores=scores, predictions=predictions)
    with threadpool_limits(limits=settings.blas_threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for repeat in range(settings.repeats):
            splits = stratified_group_splits(y, groups, settings.outer_folds, settings.seed + repeat)
            for fold, (train, test) in enumerate(splits):
                seed = settings.seed + 1000 * (repeat + 1) + fold
                name = f"{study_prefix}/r{repeat}/f{fold}/{fingerprint}"
                path = cache / f"r{repeat}_f{fold}.json" if cache is not None else None
                outcome = _read_cached(path, f"{fingerprint}-{settings.n_trials}")
                if outcome is None:
                    outcome = _tune_and_predict(X, y, groups, train, test, pipeline, search_space, settings,
                                                storage, name, seed, repeat, fold)
                    _write_cached(path, f"{fingerprint}-{settings.n_trials}", outcome)
                result.folds.append(outcome)
                rows = np.asarray(outcome.test_rows, dtype=int)
                scores[repeat, rows] = outcome.scores
                predictions[repeat, rows] = outcome.predictions
                if progress is not None:
                    progress.update(1)
    return result


def _read_cached(path: Path | None, key: str) -> FoldOutcome | None:
    if path is None or not path.is_file():
        return None
    record = json.loads(path.read_text())
    if record.get("key") != key:
        return None
    return FoldOutcome(**{**record["outcome"], "new_trials": 0, "from_cache": True})


def _write_cached(path: Path | None, key: str, outcome: FoldOutcome) -> None:
    if path is None:
        return
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({"key": key, "outcome": asdict(outcome)}))
