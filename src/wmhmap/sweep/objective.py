"""The sweep objective: each trial composes the stage's config with the base overrides and its own
suggested overrides, runs the stage in process in ``<trials dir>/<number>`` and returns its value."""

from __future__ import annotations

import importlib
import logging
import math
from collections.abc import Callable, Sequence
from numbers import Real
from pathlib import Path
from typing import Any

import optuna
from omegaconf import DictConfig, OmegaConf

from wmhmap.sweep.overrides import hydra_override, merge_overrides
from wmhmap.sweep.space import Dimension, SweepConfigError, suggest_params

__all__ = ["StageRunner", "Objective", "stage_runner", "set_groups", "GROUP_KEYS"]

log = logging.getLogger(__name__)

StageRunner = Callable[[Sequence[str], Path, optuna.Trial], Any]
"""``runner(overrides, run_dir, trial) -> value``: run one stage with these Hydra overrides in ``run_dir``."""

GROUP_KEYS = ("tracking.group", "logger.wandb.group")
"""Config keys that name a run's W&B group; set to the study name in every trial that has them."""


class Objective:
    """Callable for ``study.optimize``: suggest overrides, run the stage, return its number.

    The trial's overrides and run directory (and value, or error) are stored as user attributes. A
    stage that raises fails only its trial; ``optuna.TrialPruned`` is passed on as pruning.
    """

    def __init__(self, dimensions: list[Dimension], base_overrides: Sequence[str], runner: StageRunner,
                 trials_dir: str | Path):
        self.dimensions = dimensions
        self.base_overrides = list(base_overrides)
        self.runner = runner
        self.trials_dir = Path(trials_dir)

    def __call__(self, trial: optuna.Trial) -> float:
        params = suggest_params(trial, self.dimensions)
        suggested = [hydra_override(name, value) for name, value in params.items()]
        run_dir = self.trials_dir / str(trial.number)
        trial.set_user_attr("overrides", suggested)
        trial.set_user_attr("run_dir", str(run_dir))
        log.info("trial %d: %s", trial.number, " ".join(suggested))
        try:
            value = self.runner(merge_overrides(self.base_overrides, suggested), run_dir, trial)
            if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
                raise TypeError(f"the stage returned {value!r}; a sweep needs a finite number to optimise")
        except optuna.TrialPruned:
            raise
        except Exception as err:
            log.error("trial %d failed (run dir %s): %s: %s", trial.number, run_dir, type(err).__name__, err)
            trial.set_user_attr("error", f"{type(err).__name__}: {err}")
            raise
        trial.set_user_attr("value", float(value))
        return float(value)


def set_groups(cfg: DictConfig, group: str) -> list[str]:
    """Set every key of ``GROUP_KEYS`` that ``cfg`` has to ``group``; returns the keys set."""
    done = []
    for key in GROUP_KEYS:
        parent, leaf = key.rsplit(".", 1)
        node = OmegaConf.select(cfg, parent, default=None)
        if isinstance(node, DictConfig) and leaf in node:
            node[leaf] = group
            done.append(key)
    return done


def stage_runner(stage: str, group: str | None = None) -> StageRunner:
    """Runner for ``wmhmap.cli.<stage>.run(cfg, trial)`` on ``compose_stage(stage, overrides, run_dir)``.

    ``group`` (the study name) becomes the W&B group of every trial's run. The Hydra state of the
    calling entry point is restored after each trial, so its own ``${hydra:...}`` values stay put.
    """
    try:
        module = importlib.import_module(f"wmhmap.cli.{stage}")
    except ModuleNotFoundError as err:
        raise SweepConfigError(f"stage {stage!r}: there is no module wmhmap.cli.{stage} ({err})") from err
    run = getattr(module, "run", None)
    if not callable(run):
        raise SweepConfigError(f"stage {stage!r}: wmhmap.cli.{stage} has no run(cfg, trial) to call")

    def runner(overrides: Sequence[str], run_dir: Path, trial: optuna.Trial) -> Any:
        from hydra.core.hydra_config import HydraConfig

        from wmhmap.cli.common import compose_stage

        saved = HydraConfig.instance().cfg
        try:
            cfg = compose_stage(stage, overrides, run_dir)
            if group:
                set_groups(cfg, group)
            return run(cfg, trial)
        finally:
            HydraConfig.instance().cfg = saved

    return runner
