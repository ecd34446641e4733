"""Experiment presets: every preset parses and every configuration composes at both sizes; grids and
override items expand as documented; missing inputs and missing stages are named; and one preset
(loss_ablation) runs end to end at smoke size on the tiny cohort, resumes, and ends in a report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from wmhmap.cli.common import CONF_DIR, compose_stage
from wmhmap.errors import WmhmapError
from wmhmap.experiments.preset import (
    SIZES,
    expand_grid,
    list_presets,
    load_preset,
    plan_runs,
    presets_dir,
    render_overrides,
    report_settings,
)
from wmhmap.experiments.runner import experiment_plan, report_overrides, stage_overrides
from wmhmap.report.wandb_offline import find_offline_runs, read_offline_run

PRESETS = {"arch_benchmark", "modality_ablation", "augmentation_ablation", "loss_ablation", "cross_site",
           "regional_vs_global", "paper"}
INPUTS = {"table": "/data/features.csv", "classify_task": None, "data_root": "/data/wmh2017", "cohort": "/data/adni/manifest.csv"}


def _experiment_cfg(run_dir: Path, preset: str, *overrides: str):
    return compose_stage("experiment_run", [f"preset={preset}", *overrides], run_dir)


def test_render_overrides_and_grids() -> None:
    assert render_overrides(["a=1", {"b": None, "c": "x y"}, [["d=[1,2]"], {"e": [1, 2]}]]) == \
        ["a=1", "c='x y'", "d=[1,2]", "e=[1,2]"]
    grid = expand_grid({"loss": ["dice_ce", "tversky"], "net": {"small": ["model.w=4"], "big": ["model.w=8", "x=1"]}})
    assert grid == [("loss-dice_ce_net-small", ["loss=dice_ce", "model.w=4"]),
                    ("loss-dice_ce_net-big", ["loss=dice_ce", "model.w=8", "x=1"]),
                    ("loss-tversky_net-small", ["loss=tversky", "model.w=4"]),
                    ("loss-tversky_net-big", ["loss=tversky", "model.w=8", "x=1"])]
    assert expand_grid(None) == [("", [])]
    with pytest.raises(WmhmapError, match="has no values"):
        expand_grid({"seed": []})


def test_every_preset_parses_and_composes(tmp_path: Path) -> None:
    assert PRESETS <= set(list_presets())
    for name in sorted(PRESETS):
        assert (presets_dir() / name / "README.md").is_file(), name
        preset = load_preset(name)
        for size in SIZES:
            run_dir = tmp_path / name / size
            namespace = {"name": name, "data_dir": str(tmp_path / "data"), **INPUTS}
            planned = plan_runs(preset, size, run_dir, namespace)
            # Every configuration at smoke size; at full size the first run of each step (the grids
            # repeat the same config groups with other values).
            chosen = planned if size == "smoke" else list({r.step: r for r in reversed(planned)}.values())
            for run in chosen:
                assert (Path(CONF_DIR) / f"{run.stage}.yaml").is_file(), f"{name}: no conf/{run.stage}.yaml"
                cfg = compose_stage(run.stage, stage_overrides(run, name, str(tmp_path / "data"), run_dir, {}),
                                    run.run_dir)
                if run.stage == "train":
                    assert cfg.experiment_name == name and cfg.run_name == run.label
                    assert cfg.logger.wandb.group == name and cfg.logger.wandb.job_type == "train"
                else:
                    assert cfg.tracking.group == name
            settings = report_settings(preset, size, {**namespace, "run_dir": str(run_dir)})
            compose_stage("report", report_overrides(settings, [run_dir], name), run_dir / "report")
        _experiment_cfg(tmp_path / name, name)


def test_required_inputs_and_unknown_presets_are_named(tmp_path: Path) -> None:
    with pytest.raises(WmhmapError, match=r"needs: table=<a feature table"):
        experiment_plan(_experiment_cfg(tmp_path, "regional_vs_global"), tmp_path)
    with pytest.raises(WmhmapError, match=r"needs: data_root=<the WMH 2017"):
        experiment_plan(_experiment_cfg(tmp_path, "cross_site", "size=full"), tmp_path)
    with pytest.raises(WmhmapError, match="no preset 'lossablation'.*loss_ablation"):
        experiment_plan(_experiment_cfg(tmp_path, "lossablation"), tmp_path)


def test_missing_stage_is_skipped_with_its_dependents(tmp_path: Path) -> None:
    from wmhmap.cli.experiment import run

    preset = tmp_path / "chain.yaml"
    preset.write_text(yaml.safe_dump({
        "name": "chain", "question": "Does a missing stage stop the chain politely?",
        "sizes": {"smoke": {}, "full": {}},
        "steps": [{"name": "measure", "stage": "not_a_stage", "overrides": []},
                  {"name": "train", "stage": "train", "needs": ["measure"], "overrides": []}]}))
    cfg = compose_stage("experiment_run", [f"preset={preset}", "name=chain"], tmp_path / "run")
    assert run(cfg) == 0
    summary = pd.read_csv(tmp_path / "run" / "experiment.csv").set_index("step")
    assert summary.loc["measure", "status"] == "skipped"
    assert "wmhmap.cli.not_a_stage not found" in summary.loc["measure", "note"]
    assert summary.loc["train", "status"] == "skipped" and "needs step(s) ['measure']" in summary.loc["train", "note"]
    assert summary.loc["report", "status"] == "skipped"


def test_loss_ablation_runs_at_smoke_size(tmp_path: Path, tiny_cohort: Path) -> None:
    from wmhmap.cli.experiment import run

    overrides = [f"paths.data_dir={tiny_cohort}", "overrides.train=['datamodule.samples_per_epoch=2']"]
    cfg = _experiment_cfg(tmp_path / "run", "loss_ablation", *overrides)
    assert run(cfg) == 4
    out = tmp_path / "run"
    summary = pd.read_csv(out / "experiment.csv")
    assert list(summary["status"]) == ["not needed"] + ["done"] * 5, summary     # the cohort is there
    board = pd.read_csv(out / "report" / "leaderboard.csv").set_index("loss")
    assert set(board.index) == {"dice_ce", "dice_focal", "tversky", "generalized_dice"}
    assert bool(board.loc["dice_ce", "baseline"]) and (board["n"] == 1).all()
    page = (out / "report" / "report.html").read_text()
    assert "document.body.dataset.rendered" in page and page.count('<img src="data:image/png;base64,') >= 3
    for label in summary.query("stage == 'train'")["label"]:
        wandb_runs = [read_offline_run(p) for p in find_offline_runs(out / "train" / label)]
        assert [(r.group, r.job_type, r.name) for r in wandb_runs] == [("loss_ablation", "train", label)]
    # The same runs read from their offline W&B files alone give the same leaderboard.
    from wmhmap.pipeline.runner import run_stage

    run_stage("report", [f"wandb_dirs=[{out / 'train'}]", "group_by=[loss]", "tracking.mode=disabled"], tmp_path / "wb")
    from_wandb = pd.read_csv(tmp_path / "wb" / "leaderboard.csv").set_index("loss")
    assert set(pd.read_csv(tmp_path / "wb" / "runs.csv")["run"]) == set(summary.query("stage == 'train'")["label"])
    assert from_wandb["val/dice_best mean"].to_dict() == pytest.approx(board["val/dice_best mean"].to_dict(), abs=1e-6)
    # Again: every run finished with the same overrides, so only the report is rebuilt.
    assert run(_experiment_cfg(tmp_path / "run", "loss_ablation", *overrides)) == 4
    again = pd.read_csv(out / "experiment.csv")
    assert list(again["status"]) == ["not needed"] + ["done earlier"] * 4 + ["done"]
