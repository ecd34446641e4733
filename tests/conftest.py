"""Test-wide set-up: W&B never touches the network or the user's settings."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_WANDB_TMP = tempfile.mkdtemp(prefix="wmhmap-wandb-")
os.environ.update(
    WANDB_MODE="offline",
    WANDB_SILENT="true",
    WANDB_DIR=_WANDB_TMP,
    WANDB_CACHE_DIR=_WANDB_TMP,
    WANDB_DATA_DIR=_WANDB_TMP,
    WANDB_CONFIG_DIR=_WANDB_TMP,
    WANDB_DISABLE_GIT="true",
    MPLBACKEND="Agg",
)
os.environ.pop("WANDB_API_KEY", None)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder beside the project (../shared/data); tests using it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (see ../shared/data/README.md)")
    return SHARED_DATA
