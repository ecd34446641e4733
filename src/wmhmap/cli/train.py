"""`wmhmap-train`: fit a segmentation model (conf/train.yaml); returns the best validation Dice."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from wmhmap.cli.common import CONF_DIR, run_dir


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
def main(cfg: DictConfig) -> float:
    from wmhmap.training.train import train

    return float(train(cfg, run_dir())["metrics"]["val/dice_best"])


if __name__ == "__main__":
    main()
