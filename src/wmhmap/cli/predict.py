"""`wmhmap-predict`: WMH masks (and probability maps) on each input's own grid (conf/predict.yaml)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from wmhmap.cli.common import CONF_DIR, run_dir


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="predict")
def main(cfg: DictConfig) -> None:
    from wmhmap.inference.stage import run_predict

    run_predict(cfg, run_dir())


if __name__ == "__main__":
    main()
