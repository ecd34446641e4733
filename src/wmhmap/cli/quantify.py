"""`wmhmap-quantify`: regional WMH and brain-structure volumes per subject (conf/quantify.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from wmhmap.cli.common import CONF_DIR


def run(cfg: DictConfig, trial: Any = None) -> int:
    """Quantify on a composed config; returns the number of subjects quantified (``trial`` is unused)."""
    from wmhmap.regions.stage import run_quantify

    return run_quantify(cfg, Path(cfg.paths.run_dir))


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="quantify")
def main(cfg: DictConfig) -> int:
    return run(cfg)


if __name__ == "__main__":
    main()
