"""Experiment presets (``experiments/<name>/preset.yaml``): the stage runs that answer one question,
at smoke or full size, run one after another and closed by a report."""

from wmhmap.experiments.preset import PlannedRun, list_presets, load_preset, plan_runs, presets_dir
from wmhmap.experiments.runner import experiment_plan, run_experiment, stage_available, stage_overrides

__all__ = ["PlannedRun", "list_presets", "load_preset", "plan_runs", "presets_dir", "experiment_plan",
           "run_experiment", "stage_available", "stage_overrides"]
