"""Optuna studies over any stage's config: search spaces of Hydra overrides, trials run in process,
RDB storage (SQLite, PostgreSQL) that resumes after a kill and serves parallel workers."""

from wmhmap.sweep.objective import GROUP_KEYS, Objective, StageRunner, set_groups, stage_runner
from wmhmap.sweep.overrides import hydra_override, hydra_value, merge_overrides, override_key
from wmhmap.sweep.results import best_summary, trials_table, write_results
from wmhmap.sweep.run import SweepResult, run_study, run_sweep
from wmhmap.sweep.space import Dimension, SweepConfigError, parse_space, suggest_params
from wmhmap.sweep.study import make_pruner, make_sampler, open_storage, open_study, trials_used

__all__ = [
    "GROUP_KEYS", "Objective", "StageRunner", "set_groups", "stage_runner",
    "hydra_override", "hydra_value", "merge_overrides", "override_key",
    "best_summary", "trials_table", "write_results",
    "SweepResult", "run_study", "run_sweep",
    "Dimension", "SweepConfigError", "parse_space", "suggest_params",
    "make_pruner", "make_sampler", "open_storage", "open_study", "trials_used",
]
