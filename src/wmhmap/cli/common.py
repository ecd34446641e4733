"""Shared pieces of the Hydra entry points: where configs live, where a run writes, and composing a
stage's config in Python (tests, the demo and sweeps run stages in process)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict, read_write

import wmhmap.config  # noqa: F401  (registers the resolvers conf/ uses)

__all__ = ["CONF_DIR", "run_dir", "compose_stage"]

CONF_DIR = str(Path(os.environ.get("WMHMAP_CONF_DIR", Path(__file__).resolve().parents[3] / "conf")))
"""Config root: ``conf/`` of the checkout (override with WMHMAP_CONF_DIR for a non-editable install)."""


def run_dir() -> Path:
    """The current Hydra run's output directory."""
    return Path(HydraConfig.get().runtime.output_dir)


def compose_stage(stage: str, overrides: Sequence[str] = (), run_dir: str | Path | None = None) -> DictConfig:
    """Compose ``conf/<stage>.yaml`` with ``overrides`` as the command line would, outside ``@hydra.main``.

    ``run_dir`` becomes ``paths.run_dir`` (the Hydra output directory is not defined here).
    """
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3", job_name=stage):
        cfg = compose(config_name=stage, overrides=list(overrides), return_hydra_config=True)
    if run_dir is not None:
        with read_write(cfg), open_dict(cfg):
            cfg.paths.run_dir = str(Path(run_dir).absolute())
            cfg.hydra.runtime.output_dir = str(Path(run_dir).absolute())
    HydraConfig.instance().set_config(cfg)
    return cfg
