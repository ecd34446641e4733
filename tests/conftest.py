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


@pytest.fixture(scope="session")
def tiny_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic cohort (coarse voxels) with its manifest, generated once per test session.

    Returns the data root: ``<root>/synthetic/manifest.csv``; stage configs reach it with
    ``paths.data_dir=<root>``.
    """
    from wmhmap.data.manifest import write_manifest
    from wmhmap.synthetic import generate_cohort

    root = tmp_path_factory.mktemp("data")
    frame = generate_cohort(root / "synthetic", n_subjects=10, seed=3, resolution_mm=3.0, workers=2,
                            progress=False, montage_subjects=2)
    write_manifest(frame, root / "synthetic" / "manifest.csv")
    return root


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory: pytest.TempPathFactory, tiny_cohort: Path) -> Path:
    """The demo pipeline run once on the tiny cohort with a smoke-sized model; returns its run directory."""
    from wmhmap.cli.common import compose_stage
    from wmhmap.pipeline.demo import run_demo

    run_dir = tmp_path_factory.mktemp("demo")
    cfg = compose_stage("demo", [
        f"paths.data_dir={tiny_cohort}",
        "~stages.prepare",
        'stages.train=["experiment=smoke","trainer.max_epochs=3","datamodule.samples_per_epoch=16"]',
        # Only the test subjects are quantified, and classification (tested on its own) is left out:
        # a ten-subject cohort has too few subjects for nested cross-validation.
        'stages.quantify=["manifest=${paths.data_dir}/synthetic/manifest.csv","splits=[test]",'
        '"~atlas@schemes.depth","~atlas@schemes.bullseye","reference_resolution=2"]',
        "~stages.classify",
        "~stages.report",
    ], run_dir)
    run_demo(cfg, run_dir)
    return run_dir
