"""Training runs as report rows: the config choices and final metrics of a run directory (or of an
offline W&B run), and its per-epoch curves from the Lightning CSV log (or the W&B history)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from wmhmap.errors import InputError
from wmhmap.report.choices import run_choices
from wmhmap.report.wandb_offline import OfflineRun

__all__ = ["TrainingRun", "read_training_run", "training_run_from_wandb", "epoch_curves"]

_METRIC_PREFIXES = ("val/", "train/", "test/")


@dataclass
class TrainingRun:
    """One training run: its folder, where it came from, its row (choices + metrics), curves and, for a
    W&B run, its display name."""

    path: Path
    source: str
    row: dict[str, Any]
    curves: pd.DataFrame
    name: str = ""


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise InputError(path, f"cannot read YAML ({error})") from error


def epoch_curves(log: pd.DataFrame) -> pd.DataFrame:
    """One row per epoch from a step-level log (Lightning CSV or W&B history): the last value of each
    ``train/``, ``val/`` and ``test/`` column logged in that epoch."""
    if "epoch" not in log.columns:
        return pd.DataFrame()
    columns = [c for c in log.columns if str(c).startswith(_METRIC_PREFIXES)]
    rows = log.dropna(subset=["epoch"])
    if rows.empty or not columns:
        return pd.DataFrame()
    curves = rows.groupby("epoch", sort=True)[columns].last().reset_index()
    curves["epoch"] = curves["epoch"].astype(int)
    return curves.dropna(axis=1, how="all")


def _scalar_metrics(values: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items()
            if k.startswith(_METRIC_PREFIXES) and isinstance(v, int | float) and not isinstance(v, bool)
            and math.isfinite(float(v))}


def read_training_run(run_dir: str | Path, conf_dir: str | Path) -> TrainingRun:
    """A train-stage run directory: ``config.yaml`` (resolved config), ``metrics.yaml`` and, when
    present, ``csv/metrics.csv``."""
    run_dir = Path(run_dir)
    config = _read_yaml(run_dir / "config.yaml")
    metrics = _read_yaml(run_dir / "metrics.yaml")
    if not isinstance(config, Mapping):
        raise InputError(run_dir / "config.yaml", "expected a mapping (the run's resolved config)")
    if not isinstance(metrics, Mapping) or not isinstance(metrics.get("metrics"), Mapping):
        raise InputError(run_dir / "metrics.yaml", "expected a 'metrics:' mapping")
    curves = pd.DataFrame()
    log = run_dir / "csv" / "metrics.csv"
    if log.is_file():
        try:
            curves = epoch_curves(pd.read_csv(log))
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
            raise InputError(log, f"cannot read the training log ({error})") from error
    row = {**run_choices(config, conf_dir), "epochs_run": len(curves) or None,
           **_scalar_metrics(metrics["metrics"])}
    return TrainingRun(path=run_dir, source="run dir", row=row, curves=curves)


def training_run_from_wandb(run: OfflineRun, conf_dir: str | Path) -> TrainingRun:
    """An offline W&B training run: choices from its logged config, metrics from its final summary."""
    curves = epoch_curves(run.history) if not run.history.empty else pd.DataFrame()
    row = {**run_choices(run.config, conf_dir), "epochs_run": len(curves) or None, **_scalar_metrics(run.summary)}
    if not row.get("experiment_name"):
        row["experiment_name"] = run.group or None
    return TrainingRun(path=run.path, source="W&B offline", row=row, curves=curves, name=run.name)
