"""The train stage: build every part from config, fit, and return the validation score."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from wmhmap.augment import compose
from wmhmap.models.module import SegmentationModule
from wmhmap.tracking import plain_config, wandb_settings_env
from wmhmap.training.datamodule import WMHDataModule

__all__ = ["train", "resolve_ckpt_path"]

log = logging.getLogger(__name__)


def resolve_ckpt_path(ckpt_path: str | None, run_dir: Path) -> str | None:
    """``last`` means this run directory's ``checkpoints/last.ckpt`` (a fresh start if there is none yet)."""
    if ckpt_path in (None, "", "null"):
        return None
    if ckpt_path == "last":
        last = run_dir / "checkpoints" / "last.ckpt"
        if last.is_file():
            return str(last)
        log.warning("ckpt_path=last but %s does not exist: starting from scratch", last)
        return None
    if not Path(ckpt_path).is_file():
        raise FileNotFoundError(f"{ckpt_path}: checkpoint not found")
    return ckpt_path


def build_datamodule(cfg: DictConfig) -> WMHDataModule:
    """The data module of ``cfg``: its split, preprocessing, patch sampling and augmentation."""
    augmentation = compose(instantiate(cfg.augmentation.transforms))
    return WMHDataModule(
        manifest_path=cfg.data.manifest_path,
        cache_dir=cfg.paths.cache_dir,
        preprocessing=OmegaConf.to_container(cfg.preprocessing, resolve=True),
        split=instantiate(cfg.split),
        patch_size=cfg.model.patch_size,
        augmentation=augmentation,
        augmentation_margin=cfg.augmentation.margin,
        **cfg.datamodule,
    )


def build_module(cfg: DictConfig) -> SegmentationModule:
    """The LightningModule of ``cfg`` with its network injected."""
    scheduler = instantiate(cfg.scheduler) if cfg.get("scheduler") else None
    return SegmentationModule(
        net=instantiate(cfg.model.net),
        loss=instantiate(cfg.loss),
        optimizer=instantiate(cfg.optimizer),
        scheduler=scheduler,
        patch_size=cfg.model.patch_size,
        deep_supervision=cfg.model.deep_supervision,
        net_config=OmegaConf.to_container(cfg.model.net, resolve=True),
        **cfg.validation,
    )


def _loggers(cfg: DictConfig, run_dir: Path) -> list[Any]:
    loggers = []
    for name, logger_cfg in (cfg.get("logger") or {}).items():
        if logger_cfg is None:
            continue
        if name == "wandb":
            os.environ.update(wandb_settings_env(run_dir, "offline" if logger_cfg.offline else "online"))
            # A run directory keeps one W&B run id, so a resumed run continues the same W&B run.
            run_id = hashlib.sha1(str(run_dir.resolve()).encode()).hexdigest()[:12]
            loggers.append(instantiate(logger_cfg, id=run_id, resume="allow"))
        else:
            loggers.append(instantiate(logger_cfg))
    return loggers


def _finish_wandb(exit_code: int) -> None:
    """Close the W&B run if one is open (the tracker is closed even when fitting fails)."""
    import wandb

    if wandb.run is not None:
        wandb.finish(exit_code=exit_code)


def train(cfg: DictConfig, run_dir: Path, extra_callbacks: list[pl.Callback] | None = None) -> dict[str, Any]:
    """Fit the configured model; returns the metrics (``val/dice_best`` is the score a sweep optimises)."""
    pl.seed_everything(cfg.seed, workers=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    datamodule = build_datamodule(cfg)
    module = build_module(cfg)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    callbacks += list(extra_callbacks or [])
    loggers = _loggers(cfg, run_dir)
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers)
    resolved = plain_config(cfg)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(resolved))
    for logger in loggers:
        logger.log_hyperparams(resolved)
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=resolve_ckpt_path(cfg.get("ckpt_path"), run_dir))
    except BaseException:
        _finish_wandb(exit_code=1)
        raise
    _finish_wandb(exit_code=0)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    metrics["val/dice_best"] = module.best_dice
    best = getattr(trainer.checkpoint_callback, "best_model_path", "")
    metrics_path = run_dir / "metrics.yaml"
    metrics_path.write_text(OmegaConf.to_yaml({"metrics": metrics, "best_checkpoint": best}))
    log.info("best validation Dice %.4f (checkpoint %s)", module.best_dice, best)
    return {"metrics": metrics, "best_checkpoint": best, "trainer": trainer, "module": module}
