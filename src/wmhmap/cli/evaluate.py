"""`wmhmap-evaluate`: challenge metrics and volume agreement of predictions vs references (conf/evaluate.yaml)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from wmhmap.cli.common import CONF_DIR, run_dir


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="evaluate")
def main(cfg: DictConfig) -> float:
    """Evaluate and return the mean Dice (the value a sweeper would optimise)."""
    from wmhmap.evaluation.stage import run_evaluate

    return run_evaluate(cfg, run_dir()).mean_dice


if __name__ == "__main__":
    main()
