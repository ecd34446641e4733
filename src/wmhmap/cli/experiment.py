"""`wmhmap-experiment`: run a named experiment preset (experiments/<name>/preset.yaml) at smoke or full
size, each run in its own directory, closed by a report (conf/experiment_run.yaml); returns the number
of runs that finished."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from wmhmap.cli.common import CONF_DIR


def run(cfg: DictConfig, trial: Any = None) -> int:
    """Run the preset on a composed config; prints the runs table and where the report is."""
    from wmhmap.experiments.runner import run_experiment

    run_dir = Path(cfg.paths.run_dir).absolute()
    summary = run_experiment(cfg, run_dir)
    print("\n" + summary.drop(columns=["run_dir"]).to_markdown(index=False))
    print(f"\nExperiment outputs: {run_dir} (report: {run_dir / 'report' / 'report.html'})")
    return int(summary.query("stage != 'report'")["status"].isin(["done", "done earlier"]).sum())


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="experiment_run")
def main(cfg: DictConfig) -> int:
    return run(cfg)


if __name__ == "__main__":
    main()
