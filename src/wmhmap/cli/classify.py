"""`wmhmap-classify`: nested-CV AUC tables, comparisons and region associations (conf/classify.yaml).

Returns the best AUC (or that of ``objective.task`` / ``objective.feature_set``) so a sweep can read it.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from wmhmap.cli.common import CONF_DIR, run_dir


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="classify")
def main(cfg: DictConfig) -> float:
    from wmhmap.classify.stage import run_classify

    return run_classify(cfg, run_dir()).objective


if __name__ == "__main__":
    main()
