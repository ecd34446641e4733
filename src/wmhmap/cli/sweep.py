"""`wmhmap-sweep`: an Optuna study over any stage's config (conf/sweep.yaml, spaces in conf/sweep/);
returns the best trial's value."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from wmhmap.cli.common import CONF_DIR


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="sweep")
def main(cfg: DictConfig) -> float | None:
    from wmhmap.sweep import run_sweep

    return run_sweep(cfg).best["value"]


if __name__ == "__main__":
    main()
