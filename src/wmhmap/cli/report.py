"""`wmhmap-report`: leaderboards, tables and plots over many run directories and offline W&B runs,
written as Markdown, CSV and one self-contained HTML page (conf/report.yaml); returns the number of runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from wmhmap.cli.common import CONF_DIR


def run(cfg: DictConfig, trial: Any = None) -> int:
    """Build the report on a composed config; returns how many runs it gathered."""
    from wmhmap.report.stage import run_report

    outcome = run_report(cfg, Path(cfg.paths.run_dir))
    print(f"report of {outcome.n_runs} run(s): {outcome.page}")
    return outcome.n_runs


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="report")
def main(cfg: DictConfig) -> int:
    return run(cfg)


if __name__ == "__main__":
    main()
