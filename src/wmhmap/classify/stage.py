"""The classify stage: for every task and feature set, nested-CV scores, the summary and paper tables,
paired comparisons against a reference set, per-region associations, ROC and forest plots, all
written to the run directory and logged to W&B."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from wmhmap.classify.association import l1_selection_stability, region_associations
from wmhmap.classify.features import (
    FeatureSet,
    build_features,
    encode_sex,
    feature_set_from_config,
    select_columns,
)
from wmhmap.classify.metrics import mean_roc_curve
from wmhmap.classify.nested_cv import (
    CVSettings,
    NestedCVResult,
    nested_cv,
    open_study_storage,
    stratified_group_splits,
)
from wmhmap.classify.pipeline import build_pipeline
from wmhmap.classify.plots import plot_forest, plot_roc_curves
from wmhmap.classify.results import format_ci, paper_table
from wmhmap.classify.search_space import validate_search_space
from wmhmap.classify.summary import adjust_comparisons, compare_to_reference, summarise_result
from wmhmap.classify.table import (
    Task,
    map_labels,
    parse_task,
    read_feature_table,
    require_columns,
    select_visits,
    task_rows,
)
from wmhmap.errors import WmhmapError
from wmhmap.io.atomic import write_table
from wmhmap.tracking import log_figure, log_table, tracked_run

__all__ = ["ClassifyOutcome", "load_cohort", "resolve_tasks", "resolve_feature_sets", "run_classify"]

log = logging.getLogger(__name__)


@dataclass
class ClassifyOutcome:
    """What a classify run produced: per task x feature set summary, comparisons, associations, objective."""

    summary: pd.DataFrame
    comparisons: pd.DataFrame
    associations: pd.DataFrame
    results: dict[tuple[str, str], NestedCVResult]
    objective: float

    @property
    def new_trials(self) -> int:
        """Optuna trials this run evaluated (0 when everything was resumed from the run directory)."""
        return sum(r.new_trials for r in self.results.values())


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


def load_cohort(cfg: DictConfig) -> pd.DataFrame:
    """The table with a ``label`` column (mapped diagnosis), rows without a label dropped, visits selected."""
    source = Path(cfg.table)
    frame = read_feature_table(source)
    cols = cfg.columns
    require_columns(frame, [cols.subject, cols.diagnosis], source, "subject ids and diagnoses")
    session = cols.get("session")
    if session and session not in frame.columns:
        raise WmhmapError(f"{source}: session column {session!r} not found (set columns.session=null if there is none)")
    frame = frame.assign(label=map_labels(frame[cols.diagnosis], _plain(cfg.labels)))
    dropped = frame["label"].isna()
    if dropped.any():
        log.info("dropping %d row(s) without a label (unmapped or mapped to null)", int(dropped.sum()))
    frame = frame[~dropped]
    return select_visits(frame, cols.subject, session or None, cfg.visits)


def resolve_tasks(cfg: DictConfig, labels: pd.Series) -> list[Task]:
    """Tasks from config; a task whose labels are absent is skipped (``skip_missing_tasks``) or an error."""
    present = set(labels.dropna())
    tasks = []
    for spec in _plain(cfg.tasks):
        task = parse_task(spec, sorted(present))
        missing = [lab for lab in (*task.negative, *task.positive) if lab not in present]
        if missing or not task.negative or not task.positive:
            message = f"task {task.name}: label(s) {missing} not in the table (labels: {sorted(present)})"
            if not cfg.skip_missing_tasks:
                raise WmhmapError(message)
            log.warning("%s; skipped", message)
            continue
        tasks.append(task)
    if not tasks:
        raise WmhmapError(f"no task can be run on labels {sorted(present)}; set tasks=[...] and labels={{...}}")
    return tasks


def resolve_feature_sets(cfg: DictConfig) -> list[FeatureSet]:
    """Feature sets from ``cfg.features`` (name -> spec), in config order."""
    defaults = {"with_demographics": cfg.with_demographics, "normalise_by_icv": cfg.normalise_by_icv,
                "log_wmh": cfg.log_wmh}
    sets = [feature_set_from_config(name, _plain(node), defaults) for name, node in cfg.features.items()]
    if not sets:
        raise WmhmapError("no feature sets configured (features=[global,regional,...])")
    return sets


def _features(frame: pd.DataFrame, fset: FeatureSet, cfg: DictConfig) -> pd.DataFrame:
    meta = ["site", *cfg.harmonisation.covariates] if cfg.harmonisation.enabled else []
    return build_features(frame, fset, columns=_plain(cfg.columns), sex_codes=_plain(cfg.sex_codes),
                          volume_pattern=cfg.volume_pattern, log_pattern=cfg.log_pattern, meta=meta,
                          source=cfg.table)


def _pipeline(cfg: DictConfig, fset: FeatureSet) -> Any:
    covariates = list(cfg.harmonisation.covariates) if cfg.harmonisation.enabled else None
    passthrough = [cfg.columns[r] for r in ("age", "sex") if fset.with_demographics and cfg.columns.get(r)]
    return build_pipeline(cfg.classifier, covariates, passthrough)


def _association(frame: pd.DataFrame, y: np.ndarray, task: Task, cfg: DictConfig) -> pd.DataFrame:
    """Per-region odds ratios (one row per subject) and L1 selection stability over the outer folds."""
    acfg = cfg.association
    regions = select_columns(list(frame.columns), list(acfg.include), list(acfg.get("exclude") or []))
    if not regions:
        log.warning("association: no column matches %s; skipped", list(acfg.include))
        return pd.DataFrame()
    keep = ~frame[cfg.columns.subject].duplicated().to_numpy()
    frame, y = frame[keep], y[keep]
    covariates = {}
    for role in acfg.covariates:
        column = cfg.columns.get(role)
        if not column or column not in frame.columns:
            raise WmhmapError(f"{cfg.table}: association covariate {role!r} needs columns.{role} (got {column!r})")
        values = frame[column]
        covariates[role] = encode_sex(values, _plain(cfg.sex_codes), cfg.table) if role == "sex" else values.astype(float)
    table = region_associations(frame[regions].astype(float), y, pd.DataFrame(covariates, index=frame.index),
                                correction=acfg.correction)
    groups = frame[cfg.columns.subject].to_numpy()
    splits = [s for r in range(cfg.cv.repeats)
              for s in stratified_group_splits(y, groups, cfg.cv.outer_folds, cfg.cv.seed + r)]
    stability = l1_selection_stability(frame[regions].astype(float), y, splits, C=acfg.stability_C, seed=cfg.cv.seed)
    table["stability"] = stability.to_numpy()
    table.insert(0, "task", task.name)
    return table


def _objective(summary: pd.DataFrame, cfg: DictConfig) -> float:
    chosen = summary
    if cfg.objective.get("task"):
        chosen = chosen[chosen["task"] == cfg.objective.task]
    if cfg.objective.get("feature_set"):
        chosen = chosen[chosen["feature_set"] == cfg.objective.feature_set]
    if chosen.empty:
        raise WmhmapError(f"objective {dict(cfg.objective)} matches no task / feature set that was run")
    return float(chosen["auc"].max())


@dataclass
class _Scored:
    """One task x feature set: its nested-CV result and its rows for the summary, folds and predictions tables."""

    result: NestedCVResult
    summary: dict[str, Any]
    folds: list[dict[str, Any]]
    predictions: pd.DataFrame


def _score_feature_set(sub: pd.DataFrame, y: np.ndarray, task: Task, fset: FeatureSet, cfg: DictConfig,
                       settings: CVSettings, storage: Any, run_dir: Path, bar: Any) -> _Scored:
    """Nested CV of one feature set on one task's rows, with its summary, per-fold and prediction rows."""
    subject, session = cfg.columns.subject, cfg.columns.get("session")
    groups = sub[subject].astype(str).to_numpy()
    X = _features(sub, fset, cfg)
    result = nested_cv(X, y, groups, _pipeline(cfg, fset), _plain(cfg.classifier.search_space), settings,
                       storage=storage, study_prefix=f"{task.name}/{fset.name}",
                       cache_dir=run_dir / "cv_cache" / task.name / fset.name, progress=bar)
    stats = summarise_result(result, groups if cfg.visits == "all" else None, n_boot=cfg.metrics.bootstrap,
                             confidence=cfg.metrics.confidence, seed=settings.seed)
    keys = {"task": task.name, "feature_set": fset.name}
    summary = {**keys, "label": fset.label, "n_features": int(sum(not c.startswith("meta__") for c in X.columns)),
               **stats, "new_trials": result.new_trials}
    folds = [{**keys, "repeat": f.repeat, "fold": f.fold, "n_train": f.n_train, "n_test": f.n_test,
              "inner_auc": f.inner_auc, "test_auc": f.test_auc, "params": json.dumps(f.params),
              "study": f.study_name, "new_trials": f.new_trials} for f in result.folds]
    ids = {subject: sub[subject], **({session: sub[session]} if session else {})}
    predictions = pd.concat([pd.DataFrame({**keys, "repeat": r, **ids, "y": y, "score": result.scores[r],
                                           "prediction": result.predictions[r]})
                             for r in range(settings.repeats)], ignore_index=True)
    return _Scored(result, summary, folds, predictions)


def _compare(task: Task, scored: dict[str, _Scored], cfg: DictConfig) -> pd.DataFrame:
    """Paired comparisons of every feature set with ``comparison.reference`` on one task (empty if not possible)."""
    if len(scored) < 2:
        return pd.DataFrame()
    if cfg.comparison.reference not in scored:
        log.warning("comparison.reference %r is not a feature set of this run; no comparisons", cfg.comparison.reference)
        return pd.DataFrame()
    table = compare_to_reference({name: s.result for name, s in scored.items()}, cfg.comparison.reference,
                                 list(cfg.comparison.tests))
    return table.assign(task=task.name)[["task", *table.columns]]


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def run_classify(cfg: DictConfig, run_dir: Path) -> ClassifyOutcome:
    """Run every task x feature set, write tables and plots under ``run_dir``, log them to W&B."""
    run_dir = Path(run_dir)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    validate_search_space(_plain(cfg.classifier.search_space), f"classifier {cfg.classifier.name} search_space")
    frame = load_cohort(cfg)
    tasks = resolve_tasks(cfg, frame["label"])
    fsets = resolve_feature_sets(cfg)
    settings = CVSettings(**_plain(cfg.cv))
    storage = open_study_storage(run_dir / "optuna.db")

    logged = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])  # composed configs carry hydra's own node
    with tracked_run(cfg.tracking, "classify", run_dir, logged) as run:
        scored: dict[tuple[str, str], _Scored] = {}
        comparisons, associations = [], []
        total = len(tasks) * len(fsets) * settings.repeats * settings.outer_folds
        with tqdm(total=total, desc="outer folds", unit="fold") as bar:
            for task in tasks:
                index, y = task_rows(frame["label"], task)
                sub = frame.iloc[index].reset_index(drop=True)
                log.info("task %s: %d rows (%d positive: %s)", task.name, len(y), int(y.sum()), "+".join(task.positive))
                for fset in fsets:
                    bar.set_postfix_str(f"{task.name} / {fset.name}")
                    scored[(task.name, fset.name)] = _score_feature_set(sub, y, task, fset, cfg, settings, storage,
                                                                        run_dir, bar)
                comparisons.append(_compare(task, {f.name: scored[(task.name, f.name)] for f in fsets}, cfg))
                if cfg.association.enabled:
                    associations.append(_association(sub, y, task, cfg))

        summary = pd.DataFrame([s.summary for s in scored.values()])
        comparison = _concat(comparisons)
        if not comparison.empty:
            comparison = adjust_comparisons(comparison, cfg.comparison.correction)
        results = {key: s.result for key, s in scored.items()}
        outcome = ClassifyOutcome(summary, comparison, _concat(associations), results, _objective(summary, cfg))
        _write_outputs(outcome, _concat([s.predictions for s in scored.values()]),
                       pd.DataFrame([row for s in scored.values() for row in s.folds]), tasks, fsets, cfg, run_dir, run)
    return outcome


def _metrics_long(summary: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, s in summary.iterrows():
        rows.append({"task": s.task, "feature_set": s.feature_set, "metric": "auc", "value": s.auc, "sd": s.auc_sd,
                     "ci_low": s.auc_ci_low, "ci_high": s.auc_ci_high, "n": s.n, "n_positive": s.n_positive})
        rows.append({"task": s.task, "feature_set": s.feature_set, "metric": "fold_auc", "value": s.fold_auc_mean,
                     "sd": s.fold_auc_sd, "ci_low": np.nan, "ci_high": np.nan, "n": s.n, "n_positive": s.n_positive})
        for name in ("balanced_accuracy", "sensitivity", "specificity"):
            rows.append({"task": s.task, "feature_set": s.feature_set, "metric": name, "value": s[name],
                         "sd": s[f"{name}_sd"], "ci_low": np.nan, "ci_high": np.nan, "n": s.n, "n_positive": s.n_positive})
    return pd.DataFrame(rows)


def _write_outputs(outcome: ClassifyOutcome, predictions: pd.DataFrame, folds: pd.DataFrame, tasks: list[Task],
                   fsets: list[FeatureSet], cfg: DictConfig, run_dir: Path, run: Any) -> None:
    summary = outcome.summary
    table = paper_table(summary, [f.name for f in fsets], [t.name for t in tasks], cfg.digits,
                        {f.name: f.label for f in fsets})
    metrics = _metrics_long(summary)
    write_table(table, run_dir / "results.csv")
    write_table(table, run_dir / "results.md")
    write_table(summary, run_dir / "summary.csv")
    write_table(metrics, run_dir / "metrics.csv")
    write_table(folds, run_dir / "folds.csv")
    write_table(predictions, run_dir / "predictions.csv")
    for name, frame in (("results", table), ("summary", summary), ("metrics", metrics), ("optuna_folds", folds)):
        log_table(run, name, frame)
    if not outcome.comparisons.empty:
        write_table(outcome.comparisons, run_dir / "comparisons.csv")
        log_table(run, "comparisons", outcome.comparisons)
    if not outcome.associations.empty:
        write_table(outcome.associations, run_dir / "association.csv")
        log_table(run, "association", outcome.associations)
    for task in tasks:
        curves = {}
        for fset in fsets:
            result = outcome.results[(task.name, fset.name)]
            s = summary[(summary.task == task.name) & (summary.feature_set == fset.name)].iloc[0]
            label = f"{fset.label}: {format_ci(s.auc, s.auc_ci_low, s.auc_ci_high, cfg.digits)}"
            curves[label] = mean_roc_curve(result.y, result.scores)
        log_figure(run, f"roc/{task.name}", plot_roc_curves(curves, task.name.replace("_", " "), run_dir / f"roc_{task.name}.png"))
        if not outcome.associations.empty and (outcome.associations.task == task.name).any():
            forest = outcome.associations[outcome.associations.task == task.name]
            path = plot_forest(forest, f"{task.name.replace('_', ' ')}: odds ratio per SD", run_dir / f"forest_{task.name}.png")
            log_figure(run, f"forest/{task.name}", path)
    for _, s in summary.iterrows():
        run.summary[f"auc/{s.task}/{s.feature_set}"] = s.auc
    run.summary["objective"] = outcome.objective
    run.summary["new_trials"] = outcome.new_trials
    print(table.to_markdown(index=False))
    if not outcome.comparisons.empty:
        cols = [c for c in ("task", "feature_set", "reference", "auc_difference", "delong_p", "delong_q", "t_p", "t_q")
                if c in outcome.comparisons.columns]
        print("\n" + outcome.comparisons[cols].to_markdown(index=False, floatfmt=".3g"))
    print(f"\nresults: {run_dir / 'results.md'}")
