"""Run a sweep: open (or resume) the study, optimise until ``n_trials`` trials count or ``timeout``
passes, write ``trials.csv`` and ``best.yaml``, print them, and log the study to one W&B run."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import yaml
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from wmhmap.sweep.objective import Objective, StageRunner, stage_runner
from wmhmap.sweep.overrides import hydra_override, merge_overrides
from wmhmap.sweep.results import best_summary, trials_table, write_results
from wmhmap.sweep.space import SweepConfigError, parse_space
from wmhmap.sweep.study import open_study, trials_used
from wmhmap.tracking import log_table, tracked_run

__all__ = ["SweepResult", "run_study", "run_sweep"]

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    """A finished sweep: the study, its trials table, the best trial and the files written."""

    study: optuna.Study
    table: pd.DataFrame
    best: dict[str, Any]
    trials_csv: Path
    best_yaml: Path


def _plain(cfg: DictConfig | Mapping[str, Any]) -> dict[str, Any]:
    """A resolved plain copy (without a ``hydra`` node), so that later Hydra state cannot change it:
    every trial composes its own config, which replaces what ``${hydra:...}`` reads."""
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), resolve=True)
    return dict(cfg)


def run_study(cfg: DictConfig | Mapping[str, Any], runner: StageRunner, trials_dir: str | Path) -> optuna.Study:
    """Optimise ``cfg.study_name`` until ``cfg.n_trials`` trials count (see ``trials_used``) or
    ``cfg.timeout`` seconds pass; each trial runs ``runner`` in ``<trials_dir>/<number>`` with the
    overrides ``paths.*`` (the sweep's, but ``run_dir``) + ``base_overrides`` + ``overrides`` + its own.

    Resuming is running this again with the same storage and study name: the trials already there
    count, and trials another worker is running count too (parallel workers share one budget).
    """
    cfg = _plain(cfg)
    n_trials, timeout = cfg.get("n_trials"), cfg.get("timeout")
    if n_trials is None and timeout is None:
        raise SweepConfigError("set n_trials or timeout (or both): otherwise the sweep never ends")
    if n_trials is not None and (isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1):
        raise SweepConfigError(f"n_trials must be a positive integer or null, got {n_trials!r}")
    given = [*(cfg.get("base_overrides") or []), *(cfg.get("overrides") or [])]
    if any(not isinstance(o, str) or not ("=" in o or o.startswith("~")) for o in given):
        raise SweepConfigError(f"base_overrides and overrides must be Hydra overrides such as 'model=unet', "
                               f"got {given!r}")
    # The sweep's own paths (data, cache, outputs) hold for its trials unless an override says otherwise.
    paths = [hydra_override(f"paths.{k}", v) for k, v in (cfg.get("paths") or {}).items() if k != "run_dir"]
    base = merge_overrides(paths, given)
    objective = Objective(parse_space(cfg.get("space")), base, runner, trials_dir)
    study = open_study(cfg)
    budget = n_trials if n_trials is not None else float("inf")
    with warnings.catch_warnings():  # a dead worker's trial must not hold a place in the budget
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    used = trials_used(study)
    if used >= budget:
        log.info("study %s already has %d of %d trials: nothing to run", study.study_name, used, n_trials)
        return study
    bar = tqdm(total=n_trials, initial=used, desc=f"sweep {study.study_name}", unit="trial")

    def stop_at_budget(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        used = trials_used(study)
        bar.update(max(0, min(used, budget) - bar.n))
        if used >= budget:
            study.stop()

    try:
        study.optimize(objective, timeout=timeout, catch=(Exception,), callbacks=[stop_at_budget],
                       gc_after_trial=bool(cfg.get("gc_after_trial", True)))
    finally:
        bar.close()
    return study


def _first_line(error: Any) -> Any:
    return error.strip().splitlines()[0][:120] if isinstance(error, str) and error.strip() else error


def _log_study(run: Any, table: pd.DataFrame, best: dict[str, Any]) -> None:
    """Every trial's value in trial order (with the best so far), the table and the best trial."""
    best_so_far = None
    sign = 1 if best["direction"] == "maximize" else -1
    for row in table.itertuples(index=False):
        value = None if pd.isna(row.value) else float(row.value)
        if value is not None and (best_so_far is None or sign * value > sign * best_so_far):
            best_so_far = value
        run.log({"trial/number": row.number, "trial/value": value, "trial/state": row.state,
                 "trial/best_value": best_so_far})
    log_table(run, "trials", table)
    run.summary.update({f"best/{k}": v for k, v in best.items() if k in ("number", "value", "n_complete")})
    run.summary["best/overrides"] = " ".join(best["overrides"])


def run_sweep(cfg: DictConfig | Mapping[str, Any], runner: StageRunner | None = None) -> SweepResult:
    """The whole sweep in ``cfg.paths.run_dir``: the stage ``cfg.stage`` (or an injected ``runner``),
    results written and printed, and one W&B run (``cfg.tracking``) holding the study's trials.
    """
    cfg = _plain(cfg)
    run_dir = Path(cfg["paths"]["run_dir"])
    if runner is None:
        runner = stage_runner(str(cfg["stage"]), group=str(cfg["study_name"]))
    study = run_study(cfg, runner, run_dir / "trials")
    trials_csv, best_yaml = write_results(study, run_dir)
    table, best = trials_table(study), best_summary(study)
    print(table.assign(error=table["error"].map(_first_line)).to_markdown(index=False))
    print(f"\n{best_yaml}:\n{yaml.safe_dump(best, sort_keys=False)}")
    tracking = cfg.get("tracking") or {}
    if tracking.get("mode") != "disabled":  # disabled: W&B is not even imported
        with tracked_run(tracking, "sweep", run_dir, cfg) as run:
            _log_study(run, table, best)
    return SweepResult(study, table, best, trials_csv, best_yaml)
