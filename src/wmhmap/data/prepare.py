"""The prepare stage: a reader (or the generator) -> validated manifest -> preprocessed cache -> summary."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig

from wmhmap.data.manifest import read_manifest, write_manifest
from wmhmap.data.summary import cohort_counts, lesion_load_ml, lesion_load_quartiles
from wmhmap.io.atomic import atomic_path
from wmhmap.preprocessing import preprocess_config, preprocess_manifest
from wmhmap.tracking import log_table, tracked_run

__all__ = ["run_prepare"]

log = logging.getLogger(__name__)


def run_prepare(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Build the manifest named by ``cfg.data``, fill the cache and write the summary into ``run_dir``."""
    manifest_path = Path(cfg.data.manifest_path)
    with tracked_run(cfg.tracking, "prepare", run_dir, cfg) as run:
        frame: pd.DataFrame = instantiate(cfg.data.reader, _convert_="all")
        write_manifest(frame, manifest_path)
        manifest = read_manifest(manifest_path)
        log.info("manifest: %s (%d subject-visits)", manifest_path, len(manifest))

        cache_table = None
        if cfg.preprocess:
            config = preprocess_config(cfg.preprocessing, manifest)
            cache_table = preprocess_manifest(manifest, config, Path(cfg.paths.cache_dir), workers=cfg.workers)

        counts = cohort_counts(manifest, list(cfg.summary_by))
        quartiles = lesion_load_quartiles(manifest, lesion_load_ml(manifest))
        summary = (
            f"# Cohort summary: {cfg.data.name}\n\nManifest: `{manifest_path}`\n\n"
            f"## Subjects and visits\n\n{counts.to_markdown(index=False)}\n\n"
            f"## Reference lesion load (mL)\n\n{quartiles.to_markdown(index=False)}\n"
        )
        with atomic_path(run_dir / "summary.md") as tmp:
            tmp.write_text(summary)
        print(summary)
        log_table(run, "cohort_counts", counts)
        log_table(run, "lesion_load_quartiles", quartiles)
    return {"manifest": manifest_path, "manifest_frame": manifest, "counts": counts, "cache": cache_table}
