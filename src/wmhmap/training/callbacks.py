"""Lightning callbacks: validation overlays and parameter counts, written to the run and the loggers."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.loggers import WandbLogger

from wmhmap.plotting import overlay_figure

__all__ = ["ValidationOverlays", "ParameterCount", "CheckpointArtifact"]


class ValidationOverlays(pl.Callback):
    """Every ``every_n_epochs``, draw FLAIR with reference and predicted outlines for a few validation subjects."""

    def __init__(self, out_dir: str | Path, every_n_epochs: int = 5):
        self.out_dir = Path(out_dir)
        self.every_n_epochs = max(1, int(every_n_epochs))

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch
        last = trainer.max_epochs is not None and epoch + 1 >= trainer.max_epochs
        if trainer.sanity_checking or not trainer.is_global_zero or (epoch % self.every_n_epochs and not last):
            return
        examples = getattr(pl_module, "last_val_examples", [])
        if not examples:
            return
        panels = [{**e, "title": f"{e['subject_id']} (epoch {epoch})"} for e in examples]
        path = overlay_figure(panels, self.out_dir / f"epoch{epoch:03d}.png")
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image("val/overlays", [str(path)], step=trainer.global_step)


class ParameterCount(pl.Callback):
    """Log the network's total and trainable parameter counts once, at the start of fitting."""

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        total = sum(p.numel() for p in pl_module.parameters())
        trainable = sum(p.numel() for p in pl_module.parameters() if p.requires_grad)
        for logger in trainer.loggers:
            logger.log_hyperparams({"model/params_total": total, "model/params_trainable": trainable})


class CheckpointArtifact(pl.Callback):
    """At the end of fitting, log the best checkpoint to W&B as a model artifact (works offline too)."""

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        best = getattr(trainer.checkpoint_callback, "best_model_path", "")
        if not trainer.is_global_zero or not best or not Path(best).is_file():
            return
        import wandb

        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                artifact = wandb.Artifact(f"model-{logger.experiment.id}", type="model",
                                          metadata={"val/dice_best": float(getattr(pl_module, "best_dice", 0.0))})
                artifact.add_file(best, name="best.ckpt")
                logger.experiment.log_artifact(artifact, aliases=["best"])
