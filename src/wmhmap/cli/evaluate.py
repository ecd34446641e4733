"""`wmhmap-evaluate`: challenge metrics and volume agreement of predictions vs references (conf/evaluate.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from wmhmap.cli.common import CONF_DIR


def run(cfg: DictConfig, trial: Any = None) -> float:
    """Evaluate on a composed config; returns the mean Dice (the value a sweep would optimise)."""
    from wmhmap.evaluation.stage import run_evaluate

    return run_evaluate(cfg, Path(cfg.paths.run_dir)).mean_dice


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="evaluate")
def main(cfg: DictConfig) -> float:
    return run(cfg)


if __name__ == "__main__":
    main()
