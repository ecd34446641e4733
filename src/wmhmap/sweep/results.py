"""What a sweep leaves in its run directory: ``trials.csv`` (one row per trial) and ``best.yaml`` (the
best trial's value and its parameters as Hydra overrides, ready to paste after the stage's command)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import yaml
from optuna.trial import TrialState

from wmhmap.io import atomic_path, write_table

__all__ = ["trials_table", "best_summary", "write_results"]


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: number, state, value, each searched override, duration, run dir, error."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        duration = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start else None
        rows.append({
            "number": t.number,
            "state": t.state.name,
            "value": t.value,
            **t.params,
            "duration_s": duration,
            "run_dir": t.user_attrs.get("run_dir"),
            "retry_of": t.system_attrs.get("failed_trial"),
            "error": t.user_attrs.get("error"),
        })
    columns = ["number", "state", "value", "duration_s", "run_dir", "retry_of", "error"]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=columns)
    params = [c for c in frame.columns if c not in columns]
    return frame[["number", "state", "value", *params, *columns[3:]]].sort_values("number", ignore_index=True)


def best_summary(study: optuna.Study) -> dict[str, Any]:
    """The best completed trial: number, value, params, Hydra overrides, run dir (value None if none)."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    summary: dict[str, Any] = {"study_name": study.study_name, "direction": study.direction.name.lower(),
                               "n_complete": len(complete)}
    if not complete:
        return {**summary, "number": None, "value": None, "params": {}, "overrides": [], "run_dir": None}
    best = study.best_trial
    return {**summary, "number": best.number, "value": best.value, "params": dict(best.params),
            "overrides": list(best.user_attrs.get("overrides", [])), "run_dir": best.user_attrs.get("run_dir")}


def write_results(study: optuna.Study, run_dir: str | Path) -> tuple[Path, Path]:
    """Write ``trials.csv`` and ``best.yaml`` into ``run_dir`` (atomically); returns both paths."""
    run_dir = Path(run_dir)
    table_path = write_table(trials_table(study), run_dir / "trials.csv")
    best_path = run_dir / "best.yaml"
    with atomic_path(best_path) as tmp:
        tmp.write_text(yaml.safe_dump(best_summary(study), sort_keys=False))
    return table_path, best_path
