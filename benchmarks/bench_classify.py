"""Speed of nested cross-validation with Optuna tuning: 1,000 subjects x 60 features, 5 outer x 5
inner stratified folds, 50 TPE trials per outer fold, L2 logistic regression (conf/classifier/logreg_l2),
studies recorded in SQLite under a temporary run directory.

Run: .venv/bin/python benchmarks/bench_classify.py
Target: at most 60 s wall time on 2 cores for the whole nested CV. Also timed: the same run resumed
from its run directory (cached folds: no trials, no refits) and from its SQLite studies alone
(no new trials, one refit per fold), and the bootstrap CI of the pooled predictions.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
from omegaconf import OmegaConf

from wmhmap.classify.nested_cv import CVSettings, nested_cv, open_study_storage
from wmhmap.classify.pipeline import build_pipeline
from wmhmap.classify.stats import bootstrap_auc_ci

CONF = Path(__file__).resolve().parents[1] / "conf" / "classifier" / "logreg_l2.yaml"
N_SUBJECTS, N_FEATURES = 1000, 60
SETTINGS = CVSettings(outer_folds=5, repeats=1, inner_folds=5, n_trials=50, seed=0, pruning=True)
TARGET_S = 60.0


def _cohort(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Ten informative features among 60, a few percent missing values, labels from a noisy logistic model."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N_SUBJECTS, N_FEATURES))
    logit = X[:, :10] @ rng.uniform(0.2, 0.6, 10)
    y = (rng.random(N_SUBJECTS) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    X[rng.random(X.shape) < 0.02] = np.nan
    frame = pd.DataFrame(X, columns=[f"wmh_ml__bench__r{i:02d}" for i in range(N_FEATURES)])
    return frame, y, np.array([f"sub-{i:04d}" for i in range(N_SUBJECTS)])


def _run(X, y, groups, run_dir: Path, settings: CVSettings = SETTINGS):
    classifier = OmegaConf.load(CONF)
    start = time.perf_counter()
    result = nested_cv(X, y, groups, build_pipeline(classifier), OmegaConf.to_container(classifier.search_space),
                       settings, storage=open_study_storage(run_dir / "optuna.db"), study_prefix="bench",
                       cache_dir=run_dir / "cv_cache")
    return time.perf_counter() - start, result


def main() -> int:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X, y, groups = _cohort()
    print(f"nested CV: {N_SUBJECTS} subjects x {N_FEATURES} features, {SETTINGS.outer_folds} outer x "
          f"{SETTINGS.inner_folds} inner folds, {SETTINGS.n_trials} trials/fold, logreg_l2, "
          f"{os.cpu_count()} CPU core(s)")
    with tempfile.TemporaryDirectory(prefix="bench-classify-") as tmp:
        run_dir = Path(tmp)
        wall, result = _run(X, y, groups, run_dir)
        print(f"  full run            {wall:6.1f} s  ({result.new_trials} trials, mean fold AUC "
              f"{result.fold_aucs.mean():.3f})")
        cached, again = _run(X, y, groups, run_dir)
        print(f"  resumed, cached     {cached:6.2f} s  ({again.new_trials} new trials)")
        shutil.rmtree(run_dir / "cv_cache")
        resumed, again = _run(X, y, groups, run_dir)
        print(f"  resumed from SQLite {resumed:6.2f} s  ({again.new_trials} new trials, {SETTINGS.outer_folds} refits)")
        no_prune_dir = run_dir / "no_pruning"
        unpruned, _ = _run(X, y, groups, no_prune_dir, CVSettings(**{**SETTINGS.__dict__, "pruning": False}))
        print(f"  without pruning     {unpruned:6.1f} s")
        start = time.perf_counter()
        auc, low, high = bootstrap_auc_ci(result.y, result.scores, n_boot=2000)
        print(f"  bootstrap CI (2000) {time.perf_counter() - start:6.2f} s  AUC {auc:.3f} [{low:.3f}, {high:.3f}]")
    verdict = "OK" if wall <= TARGET_S else "SLOWER THAN TARGET"
    print(f"target <= {TARGET_S:.0f} s: {verdict}")
    return 0 if wall <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
