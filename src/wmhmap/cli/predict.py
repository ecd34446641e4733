"""`wmhmap-predict`: WMH masks (and probability maps) on each input's own grid (conf/predict.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from wmhmap.cli.common import CONF_DIR


def run(cfg: DictConfig, trial: Any = None) -> int:
    """Predict on a composed config; returns the number of subjects predicted."""
    from wmhmap.inference.stage import run_predict

    return len(run_predict(cfg, Path(cfg.paths.run_dir)).table)


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="predict")
def main(cfg: DictConfig) -> None:
    run(cfg)


if __name__ == "__main__":
    main()
