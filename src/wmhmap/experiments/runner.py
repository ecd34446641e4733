"""Run an experiment preset: every planned stage run in order, each in process in its own run
directory (skipping runs finished earlier with the same overrides), then the report over them.
Every run shares the W&B group = experiment name; the job type is the stage."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from wmhmap.errors import WmhmapError
from wmhmap.experiments.preset import (
    PlannedRun,
    load_preset,
    plan_runs,
    report_settings,
    size_requirements,
)
from wmhmap.io.atomic import atomic_path, write_table
from wmhmap.pipeline.runner import run_stage
from wmhmap.report.gather import run_kind
from wmhmap.sweep.overrides import hydra_override, merge_overrides

__all__ = ["MARKER", "stage_available", "stage_overrides", "report_overrides", "run_experiment", "experiment_plan"]

log = logging.getLogger(__name__)

MARKER = "experiment_run.yaml"
"""Written into a run directory when its run finished: stage, overrides, value, seconds."""

INPUTS = ("table", "classify_task", "data_root", "cohort")
"""Experiment config keys that presets refer to as ``${<key>}``."""


def stage_available(stage: str) -> str | None:
    """``None`` when ``wmhmap.cli.<stage>`` can run in process, else why not."""
    name = f"wmhmap.cli.{stage}"
    if importlib.util.find_spec(name) is None:
        return f"stage {stage!r} is not available in this installation ({name} not found)"
    if not callable(getattr(importlib.import_module(name), "run", None)):
        return f"stage {stage!r} cannot run in process yet ({name} has no run(cfg) function)"
    return None


def stage_overrides(run: PlannedRun, name: str, data_dir: str, run_dir: Path,
                    extra: Mapping[str, Sequence[str]]) -> list[str]:
    """A run's full override list: shared paths, the experiment's W&B group (and, for training, its
    experiment and run names), the preset's overrides, then the user's for that stage."""
    shared = [hydra_override("paths.data_dir", data_dir), hydra_override("paths.output_dir", str(run_dir))]
    if run.stage == "train":
        shared += [hydra_override("experiment_name", name), hydra_override("run_name", run.label)]
    else:
        shared += [hydra_override("tracking.group", name)]
    return merge_overrides(shared, run.overrides, list(extra.get(run.stage) or []))


def report_overrides(settings: Mapping[str, Any], runs: Sequence[Path], title: str) -> list[str]:
    """Overrides of the closing report: the runs, a title, and the preset's report settings."""
    return [hydra_override("runs", [str(p) for p in runs]), hydra_override("title", title),
            *[hydra_override(k, v) for k, v in settings.items()]]


def _marker(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / MARKER
    if not path.is_file():
        return None
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError:
        return None


def _write_marker(run_dir: Path, record: Mapping[str, Any]) -> None:
    with atomic_path(run_dir / MARKER) as tmp:
        tmp.write_text(yaml.safe_dump(dict(record), sort_keys=False))


def _plain_value(value: Any) -> Any:
    return value if isinstance(value, int | float | str | bool) or value is None else str(value)


def experiment_plan(cfg: DictConfig, run_dir: Path) -> tuple[DictConfig, list[PlannedRun], dict[str, Any]]:
    """The preset, its planned runs and the namespace its strings resolve against, checking that the
    inputs the size requires were given."""
    preset = load_preset(cfg.preset, cfg.get("presets_dir"))
    namespace = {"name": cfg.name, "data_dir": str(Path(cfg.paths.data_dir).absolute()),
                 **{key: cfg.get(key) for key in INPUTS}}
    missing = {k: why for k, why in size_requirements(preset, cfg.size).items() if namespace.get(k) in (None, "")}
    if missing:
        needed = "; ".join(f"{k}=<{why}>" for k, why in missing.items())
        raise WmhmapError(f"preset {preset.name} at size {cfg.size} needs: {needed}")
    return preset, plan_runs(preset, cfg.size, run_dir, namespace), namespace


def run_experiment(cfg: DictConfig, run_dir: Path) -> pd.DataFrame:
    """Run the preset's planned runs, then the report; returns (and writes as experiment.csv and
    experiment.md) one row per run: step, label, stage, status (done, done earlier, not needed,
    skipped, failed), value, seconds, run_dir, note."""
    run_dir.mkdir(parents=True, exist_ok=True)
    preset, planned, namespace = experiment_plan(cfg, run_dir)
    extra = OmegaConf.to_container(cfg.overrides, resolve=True) if cfg.get("overrides") else {}
    data_dir = namespace["data_dir"]
    rows: list[dict[str, Any]] = []
    unfinished: set[str] = set()
    for run in tqdm(planned, desc=f"{preset.name} ({cfg.size})", unit="run"):
        overrides = stage_overrides(run, cfg.name, data_dir, run_dir, extra)
        row = {"step": run.step, "label": run.label, "stage": run.stage, "status": "done", "value": None,
               "seconds": 0.0, "run_dir": str(run.run_dir), "note": ""}
        blocked = [need for need in run.needs if need in unfinished]
        problem = stage_available(run.stage)
        earlier = _marker(run.run_dir) if cfg.resume else None
        if run.unless_exists is not None and run.unless_exists.exists():
            row.update(status="not needed", note=f"{run.unless_exists} exists")
        elif blocked:
            row.update(status="skipped", note=f"needs step(s) {blocked}, which did not finish")
        elif problem:
            row.update(status="skipped", note=problem + "; skipped")
        elif earlier is not None and earlier.get("overrides") == overrides:
            row.update(status="done earlier", value=earlier.get("value"), seconds=earlier.get("seconds", 0.0))
        else:
            try:
                value, seconds = run_stage(run.stage, overrides, run.run_dir)
            except Exception as error:
                if not cfg.continue_on_error:
                    raise
                log.exception("run %s/%s failed", run.step, run.label)
                row.update(status="failed", note=f"{type(error).__name__}: {error}"[:500])
            else:
                row.update(value=_plain_value(value), seconds=round(seconds, 1))
                _write_marker(run.run_dir, {"preset": preset.name, "size": cfg.size, "step": run.step,
                                            "stage": run.stage, "label": run.label, "overrides": overrides,
                                            "value": row["value"], "seconds": row["seconds"]})
        if row["status"] in ("skipped", "failed"):
            unfinished.add(run.step)
            log.warning("%s/%s %s: %s", run.step, run.label, row["status"], row["note"])
        rows.append(row)

    finished = [Path(r["run_dir"]) for r in rows if r["status"] in ("done", "done earlier")]
    reportable = [p for p in finished if run_kind(p) is not None]
    report_dir = run_dir / "report"
    report_row = {"step": "report", "label": "report", "stage": "report", "status": "skipped", "value": None,
                  "seconds": 0.0, "run_dir": str(report_dir), "note": "no finished run to report on"}
    if reportable:
        settings = report_settings(preset, cfg.size, {**namespace, "run_dir": str(run_dir)})
        overrides = merge_overrides(
            [hydra_override("paths.data_dir", data_dir), hydra_override("paths.output_dir", str(run_dir)),
             hydra_override("tracking.group", cfg.name)],
            report_overrides(settings, reportable, f"{preset.name} ({cfg.size}): {preset.question}"),
            list(extra.get("report") or []))
        value, seconds = run_stage("report", overrides, report_dir)
        report_row.update(status="done", value=value, seconds=round(seconds, 1), note=str(report_dir / "report.html"))
    rows.append(report_row)
    summary = pd.DataFrame(rows)
    write_table(summary, run_dir / "experiment.csv")
    with atomic_path(run_dir / "experiment.md") as tmp:
        tmp.write_text(f"# {preset.name} ({cfg.size})\n\n{preset.question}\n\n"
                       + summary.drop(columns=["run_dir"]).to_markdown(index=False) + "\n")
    return summary
