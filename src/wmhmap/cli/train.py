"""`wmhmap-train`: fit a segmentation model (conf/train.yaml); returns the best validation Dice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from wmhmap.cli.common import CONF_DIR


def run(cfg: DictConfig, trial: Any = None) -> float:
    """Train on a composed config; an Optuna ``trial`` gets per-epoch validation Dice for pruning."""
    from wmhmap.training.train import train

    callbacks = []
    if trial is not None:
        from wmhmap.sweep.pruning import LightningPruningCallback

        callbacks.append(LightningPruningCallback(trial, monitor="val/dice"))
    return float(train(cfg, Path(cfg.paths.run_dir), extra_callbacks=callbacks)["metrics"]["val/dice_best"])


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
def main(cfg: DictConfig) -> float:
    return run(cfg)


if __name__ == "__main__":
    main()
