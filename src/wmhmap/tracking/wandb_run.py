"""A W&B run per stage: offline unless the config says otherwise, files under the run directory,
and finished (with a failure exit code) even when the stage raises."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf

__all__ = ["tracked_run", "log_table", "log_figure", "wandb_settings_env", "plain_config"]


def plain_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as plain containers, without Hydra's own ``hydra`` node."""
    return OmegaConf.to_container(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), resolve=True)


def wandb_settings_env(run_dir: str | Path, mode: str) -> dict[str, str]:
    """Environment that keeps W&B inside ``run_dir`` and off the network when ``mode`` is offline/disabled."""
    run_dir = Path(run_dir)
    env = {"WANDB_MODE": mode, "WANDB_DIR": str(run_dir), "WANDB_SILENT": "true"}
    if mode != "online":
        env.update(WANDB_DISABLE_GIT="true", WANDB_DISABLE_CODE="true")
    return env


@contextlib.contextmanager
def tracked_run(
    tracking: Mapping[str, Any] | DictConfig,
    stage: str,
    run_dir: str | Path,
    config: DictConfig | Mapping[str, Any] | None = None,
) -> Iterator[Any]:
    """Open a W&B run for ``stage`` (job type) logged under ``run_dir``; yields the run object.

    ``tracking`` holds ``project``, ``mode`` (offline, online or disabled), optional ``entity``,
    ``group``, ``tags`` and ``name``. The run is finished with exit code 1 if the body raises.
    """
    import wandb

    tracking = OmegaConf.to_container(tracking, resolve=True) if isinstance(tracking, DictConfig) else dict(tracking)
    mode = str(tracking.get("mode", "offline"))
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update(wandb_settings_env(run_dir, mode))
    if isinstance(config, DictConfig):
        config = plain_config(config)
    run = wandb.init(
        project=tracking.get("project", "wmhmap"),
        entity=tracking.get("entity"),
        group=tracking.get("group"),
        job_type=stage,
        name=tracking.get("name"),
        tags=list(tracking.get("tags") or []),
        dir=str(run_dir),
        mode=mode,
        config=dict(config or {}),
        settings=wandb.Settings(init_timeout=30, silent=True, console="off"),
        reinit="finish_previous",
    )
    try:
        yield run
    except BaseException:
        run.finish(exit_code=1)
        raise
    run.finish()


def log_table(run: Any, key: str, frame: pd.DataFrame) -> None:
    """Log a pandas table to W&B (no-op when ``run`` is None)."""
    if run is None:
        return
    import wandb

    run.log({key: wandb.Table(dataframe=frame.reset_index(drop=True))})


def log_figure(run: Any, key: str, path: str | Path) -> None:
    """Log a saved PNG to W&B as an image (no-op when ``run`` is None)."""
    if run is None:
        return
    import wandb

    run.log({key: wandb.Image(str(path))})
