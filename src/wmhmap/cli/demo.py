"""`wmhmap-demo`: the whole pipeline on a synthetic cohort, CPU only (conf/demo.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from wmhmap.cli.common import CONF_DIR


def run(cfg: DictConfig, trial: Any = None) -> None:
    """Run every stage of the demo and print where the results are."""
    from wmhmap.pipeline.demo import headline, run_demo

    run_dir = Path(cfg.paths.run_dir).absolute()
    summary = run_demo(cfg, run_dir)
    print("\n" + summary.to_markdown(index=False) + "\n\n" + headline(run_dir))
    print(f"\nDemo outputs: {run_dir}")
    report = run_dir / "report" / "report.html"
    if report.is_file():
        print(f"Report: {report}")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="demo")
def main(cfg: DictConfig) -> None:
    run(cfg)


if __name__ == "__main__":
    main()
