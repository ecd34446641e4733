"""The predict stage: resolve inputs and checkpoints from config, predict, report failures."""

from __future__ import annotations

import glob
import logging
from pathlib import Path
from typing import Any

import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig

from wmhmap.data.manifest import read_manifest
from wmhmap.errors import WmhmapError
from wmhmap.inference.batch import BatchResult, predict_manifest
from wmhmap.inference.predictor import Predictor, PredictorSettings
from wmhmap.tracking import log_table, tracked_run

__all__ = ["resolve_inputs", "resolve_checkpoints", "run_predict"]

log = logging.getLogger(__name__)


def resolve_inputs(inputs: DictConfig) -> pd.DataFrame:
    """A manifest-like table from exactly one of: ``manifest``, ``folder`` (a folder reader config) or ``flair`` (+ ``t1``)."""
    given = [k for k in ("manifest", "folder", "flair") if inputs.get(k)]
    if len(given) != 1:
        raise WmhmapError(f"give exactly one of input.manifest, input.folder, input.flair (got {given or 'none'})")
    if inputs.get("manifest"):
        frame = read_manifest(inputs.manifest)
        if inputs.get("splits"):
            frame = frame[frame["split"].isin(list(inputs.splits))]
        return frame.reset_index(drop=True)
    if inputs.get("folder"):
        return instantiate(inputs.folder_reader, root=inputs.folder)
    flair = Path(inputs.flair)
    return pd.DataFrame(
        [{"subject_id": flair.name.split(".")[0], "session": "1", "site": "single",
          "flair": str(flair), "t1": inputs.get("t1")}]
    )


def resolve_checkpoints(checkpoints: Any) -> list[str]:
    """Checkpoint paths from a list of paths or glob patterns (e.g. ``outputs/train/exp/*/checkpoints/best.ckpt``)."""
    patterns = [checkpoints] if isinstance(checkpoints, str) else list(checkpoints or [])
    paths: list[str] = []
    for pattern in patterns:
        matched = sorted(glob.glob(str(pattern)))
        if not matched:
            raise WmhmapError(f"no checkpoint matches {pattern}")
        paths.extend(matched)
    if not paths:
        raise WmhmapError("no checkpoints given: checkpoints=[path, ...] or a glob pattern")
    return paths


def run_predict(cfg: DictConfig, run_dir: Path) -> BatchResult:
    """Predict every input subject into ``cfg.out_dir``; raises SystemExit(1) listing failed subjects."""
    out_dir = Path(cfg.out_dir)
    with tracked_run(cfg.tracking, "predict", run_dir, cfg) as run:
        frame = resolve_inputs(cfg.input)
        checkpoints = resolve_checkpoints(cfg.checkpoints)
        log.info("%d subject(s), %d checkpoint(s) -> %s", len(frame), len(checkpoints), out_dir)
        predictor = Predictor(checkpoints, PredictorSettings(**cfg.inference))
        result = predict_manifest(frame, predictor, out_dir, overwrite=cfg.overwrite,
                                  save_probability=cfg.save_probability)
        log_table(run, "predictions", result.table)
        run.summary["n_failed"] = len(result.failures)
    print(result.table.to_markdown(index=False))
    print(f"\npredictions: {out_dir / 'predictions.csv'}")
    if result.failures:
        lines = "\n".join(f"  {sid}/{ses}: {err}" for sid, ses, err in result.failures)
        print(f"\n{len(result.failures)} subject(s) failed:\n{lines}")
        raise SystemExit(1)
    return result
