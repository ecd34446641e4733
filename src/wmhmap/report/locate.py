"""Find a demo's output folder and the synthetic cohort it used, for the notebooks: an environment
variable first, else the newest ``outputs/demo/<date>_<time>/`` near the working directory."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from wmhmap.errors import InputError

__all__ = ["demo_dir", "cohort_dir"]


def demo_dir(env: str = "WMHMAP_DEMO_DIR", start: str | Path | None = None) -> Path:
    """``$WMHMAP_DEMO_DIR`` when set; else the newest run under ``outputs/demo/`` of ``$WMHMAP_ROOT``,
    the working directory or its parent (a notebook runs from ``notebooks/``)."""
    if os.environ.get(env):
        folder = Path(os.environ[env]).expanduser()
        if not folder.is_dir():
            raise InputError(folder, f"demo folder not found (from ${env})")
        return folder
    start = Path(start or Path.cwd())
    roots = [Path(os.environ["WMHMAP_ROOT"])] if os.environ.get("WMHMAP_ROOT") else []
    roots += [start, start.parent]
    for root in roots:
        runs = sorted(p for p in (root / "outputs" / "demo").glob("*") if p.is_dir() and p.name != "multirun")
        if runs:
            return runs[-1]
    raise InputError(start / "outputs" / "demo", f"no demo run found: run `make demo` or set {env}=<a demo run folder>")


def cohort_dir(demo: str | Path) -> Path:
    """The folder of the cohort a demo trained on (holding ``manifest.csv`` and, when synthetic,
    ``truth.csv``), read from the training run's resolved config."""
    config_path = Path(demo) / "train" / "config.yaml"
    if not config_path.is_file():
        raise InputError(config_path, "no training config in the demo folder")
    config = yaml.safe_load(config_path.read_text())
    manifest = Path(config["data"]["manifest_path"])
    if not manifest.is_absolute():
        manifest = (Path(demo) / manifest).resolve()
    if not manifest.is_file():
        raise InputError(manifest, "the demo's manifest is not there any more")
    return manifest.parent
