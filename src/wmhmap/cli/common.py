"""Shared pieces of the Hydra entry points: where configs live and where a run writes."""

from __future__ import annotations

import os
from pathlib import Path

from hydra.core.hydra_config import HydraConfig

import wmhmap.config  # noqa: F401  (registers the resolvers conf/ uses)

__all__ = ["CONF_DIR", "run_dir"]

CONF_DIR = str(Path(os.environ.get("WMHMAP_CONF_DIR", Path(__file__).resolve().parents[3] / "conf")))
"""Config root: ``conf/`` of the checkout (override with WMHMAP_CONF_DIR for a non-editable install)."""


def run_dir() -> Path:
    """The current Hydra run's output directory."""
    return Path(HydraConfig.get().runtime.output_dir)
