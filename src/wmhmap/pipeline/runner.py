"""Run stages in process: compose each stage's config with overrides and call its ``run``."""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wmhmap.cli.common import compose_stage

__all__ = ["run_stage"]

log = logging.getLogger(__name__)


def run_stage(stage: str, overrides: Sequence[str], run_dir: str | Path) -> tuple[Any, float]:
    """Run ``wmhmap.cli.<stage>.run`` on ``conf/<stage>.yaml`` + ``overrides`` in ``run_dir``; returns
    (the stage's value, seconds)."""
    start = time.perf_counter()
    log.info("stage %s -> %s", stage, run_dir)
    cfg = compose_stage(stage, overrides, run_dir)
    value = importlib.import_module(f"wmhmap.cli.{stage}").run(cfg)
    return value, time.perf_counter() - start
