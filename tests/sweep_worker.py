"""A sweep worker for tests/test_sweep.py's subprocess tests: the real study machinery (run_sweep) with a
quick injected runner instead of a stage.

    python tests/sweep_worker.py STORAGE STUDY N_TRIALS SEED RUN_DIR SLEEP_S HEARTBEAT_S
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import optuna

from wmhmap.sweep import run_sweep

SPACE = {"x": {"type": "float", "low": 0.0, "high": 1.0}, "k": {"type": "categorical", "choices": ["a", "b", "c"]}}
BONUS = {"a": 0.0, "b": 0.1, "c": 0.05}


def expected_value(params: dict) -> float:
    """The objective the worker's runner returns for a trial's params."""
    return 1.0 - (params["x"] - 0.3) ** 2 + BONUS[params["k"]]


def main(storage: str, study: str, n_trials: str, seed: str, run_dir: str, sleep_s: str, heartbeat_s: str) -> None:
    def runner(overrides: Sequence[str], trial_dir: Path, trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", os.getpid())
        time.sleep(float(sleep_s))
        return expected_value(trial.params)

    cfg = {"stage": "none", "study_name": study, "storage": storage, "n_trials": int(n_trials), "timeout": None,
           "direction": "maximize", "seed": int(seed), "sampler": {"name": "tpe", "n_startup_trials": 4},
           "pruner": {"name": "none"}, "heartbeat_interval": int(heartbeat_s), "max_retry": 1, "gc_after_trial": False,
           "space": SPACE, "paths": {"run_dir": run_dir}, "tracking": {"mode": "disabled"}}
    run_sweep(cfg, runner)


if __name__ == "__main__":
    main(*sys.argv[1:])
