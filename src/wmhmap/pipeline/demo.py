"""The demo: every stage on a synthetic cohort, one after the other, with a closing summary."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from wmhmap.io.atomic import atomic_path
from wmhmap.pipeline.runner import run_stage

__all__ = ["run_demo", "headline"]


def headline(run_dir: Path) -> str:
    """The demo's figures to print at the end: segmentation metrics and the classification table."""
    parts = []
    evaluation = run_dir / "evaluate" / "summary.csv"
    if evaluation.is_file():
        overall = pd.read_csv(evaluation).query("grouping == 'all'")
        columns = [f"{m}_mean" for m in ("dice", "hd95", "avd", "recall", "f1")]
        parts.append("## Segmentation (synthetic test subjects)\n\n"
                     + overall[["n", *columns]].round(3).to_markdown(index=False))
    for name in ("results.md",):
        table = run_dir / "classify" / name
        if table.is_file():
            parts.append("## Classification, AUC [95% CI]\n\n" + table.read_text().strip())
    return "\n\n".join(parts)


def run_demo(cfg: DictConfig, run_dir: Path) -> pd.DataFrame:
    """Run the steps listed in ``cfg.stages`` in order; returns and writes a table of what each gave.

    A step is ``<stage>: [overrides]``, or ``<name>: {stage: <stage>, overrides: [...]}`` to run one
    stage twice (e.g. quantifying reference and predicted masks); each writes into ``run_dir/<name>``.
    """
    steps = OmegaConf.to_container(cfg.stages, resolve=True)
    common = list(OmegaConf.to_container(cfg.common, resolve=True))
    rows = []
    for name, step in steps.items():
        stage, overrides = (step["stage"], step["overrides"]) if isinstance(step, dict) else (name, step)
        value, seconds = run_stage(stage, [*common, *overrides], run_dir / name)
        rows.append({"step": name, "stage": stage, "value": value if isinstance(value, int | float) else None,
                     "seconds": round(seconds, 1), "outputs": str(run_dir / name)})
    summary = pd.DataFrame(rows)
    with atomic_path(run_dir / "demo_summary.md") as tmp:
        tmp.write_text("# wmhmap demo (synthetic cohort)\n\n" + summary.to_markdown(index=False) + "\n\n"
                       + headline(run_dir) + "\n")
    return summary
