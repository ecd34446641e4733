"""Optuna pruning for ``pytorch_lightning`` trainers: report the monitored validation metric after each
validation epoch and stop a trial the pruner gives up on. (optuna_integration's callback is written
for the ``lightning`` package, whose Trainer rejects it here.)"""

from __future__ import annotations

import warnings

import optuna
import pytorch_lightning as pl

__all__ = ["LightningPruningCallback"]


class LightningPruningCallback(pl.Callback):
    """Report ``monitor`` to ``trial`` at every validation end (step = epoch); raise
    ``optuna.TrialPruned`` when the study's pruner says so. Single-process trainers only."""

    def __init__(self, trial: optuna.Trial, monitor: str = "val/dice"):
        super().__init__()
        self.trial = trial
        self.monitor = monitor

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if trainer.world_size > 1:
            raise RuntimeError(f"pruning trial {self.trial.number}: a sweep runs trials in process, so the trainer "
                               f"must use one process (got world size {trainer.world_size})")

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        score = trainer.callback_metrics.get(self.monitor)
        if score is None:
            warnings.warn(f"pruning: {self.monitor!r} is not among the logged metrics "
                          f"{sorted(trainer.callback_metrics)}; trial {self.trial.number} is not reported",
                          stacklevel=2)
            return
        epoch = trainer.current_epoch
        self.trial.report(float(score), step=epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"trial {self.trial.number} pruned at epoch {epoch}: "
                                     f"{self.monitor}={float(score):.4g}")
