"""`wmhmap-prepare`: write a dataset's manifest and preprocessed cache (conf/prepare.yaml)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from wmhmap.cli.common import CONF_DIR, run_dir


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="prepare")
def main(cfg: DictConfig) -> None:
    from wmhmap.data.prepare import run_prepare

    run_prepare(cfg, run_dir())


if __name__ == "__main__":
    main()
