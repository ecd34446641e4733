"""`wmhmap-prepare`: write a dataset's manifest and preprocessed cache (conf/prepare.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from wmhmap.cli.common import CONF_DIR


def run(cfg: DictConfig, trial: Any = None) -> None:
    """Run the stage on a composed config (``trial`` is unused: nothing to optimise here)."""
    from wmhmap.data.prepare import run_prepare

    run_prepare(cfg, Path(cfg.paths.run_dir))


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="prepare")
def main(cfg: DictConfig) -> None:
    run(cfg)


if __name__ == "__main__":
    main()
