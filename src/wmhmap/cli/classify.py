"""`wmhmap-classify`: nested-CV AUC tables, comparisons and region associations (conf/classify.yaml).

Returns the best AUC (or that of ``objective.task`` / ``objective.feature_set``) so a sweep can read it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from wmhmap.cli.common import CONF_DIR


def run(cfg: DictConfig, trial: Any = None) -> float:
    """Classify on a composed config; returns the objective AUC."""
    from wmhmap.classify.stage import run_classify

    return run_classify(cfg, Path(cfg.paths.run_dir)).objective


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="classify")
def main(cfg: DictConfig) -> float:
    return run(cfg)


if __name__ == "__main__":
    main()
