"""wmhmap-report: the statistics of the leaderboard on hand-computed cases, config choices read back
from resolved configs, offline W&B runs read without a network, gathering errors, and the whole
report on real demo runs plus generated ones, rendered in a headless Chromium."""

from __future__ import annotations

import copy
import math
import shutil
import subprocess
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
import yaml

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from wmhmap.cli.common import CONF_DIR, compose_stage  # noqa: E402
from wmhmap.errors import InputError, WmhmapError  # noqa: E402
from wmhmap.pipeline.runner import run_stage  # noqa: E402
from wmhmap.report.choices import infer_choice, run_choices  # noqa: E402
from wmhmap.report.gather import gather_runs, run_kind  # noqa: E402
from wmhmap.report.leaderboard import compare_groups, leaderboard  # noqa: E402
from wmhmap.report.page import Image, Section, Table, render_html  # noqa: E402
from wmhmap.report.wandb_offline import find_offline_runs, log_records, read_offline_run  # noqa: E402
from wmhmap.tracking import plain_config  # noqa: E402

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
# Validation Dice per fold (0, 1, 2) of three losses, seed 0.
DICE = {"dice_ce": [0.70, 0.72, 0.68], "dice_focal": [0.74, 0.77, 0.71], "tversky": [0.69, 0.73, 0.66]}


def _p_t_df2(t: float) -> float:
    """Two-sided p of Student's t with 2 degrees of freedom (closed form: 1 - |t| / sqrt(t^2 + 2))."""
    return 1 - abs(t) / math.sqrt(t * t + 2)


# ---- statistics -------------------------------------------------------------------------------------

def test_paired_t_test_over_matching_folds() -> None:
    base = pd.DataFrame({"fold": [0, 1, 2], "seed": 0, "dice": [0.70, 0.72, 0.68]})
    better = pd.DataFrame({"fold": [2, 0, 1, 3], "seed": 0, "dice": [0.71, 0.74, 0.77, 0.90]})  # fold 3 unmatched
    result = compare_groups(better, base, "dice", ["fold", "seed"], "ttest")
    # differences 0.04, 0.05, 0.03: mean 0.04, sd 0.01, t = 0.04 / (0.01 / sqrt 3) = 6.9282
    assert result.n == 3 and result.difference == pytest.approx(0.04)
    assert result.statistic == pytest.approx(6.9282, abs=1e-3)
    assert result.p == pytest.approx(_p_t_df2(6.9282), abs=1e-4)
    assert result.test.startswith("paired t-test, 3 pairs on fold, seed")


def test_wilcoxon_and_unpaired_tests() -> None:
    base = pd.DataFrame({"fold": range(5), "dice": [0.5] * 5})
    up = pd.DataFrame({"fold": range(5), "dice": [0.6, 0.7, 0.8, 0.9, 0.55]})
    # five positive differences: exact two-sided p = 2 / 2^5
    assert compare_groups(up, base, "dice", ["fold"], "wilcoxon").p == pytest.approx(0.0625)
    assert compare_groups(base, base, "dice", ["fold"], "wilcoxon").p == 1.0
    # no shared fold: independent samples
    a = pd.DataFrame({"fold": [0, 1, 2], "dice": [1.0, 2.0, 3.0]})
    b = pd.DataFrame({"fold": [3, 4, 5], "dice": [4.0, 5.0, 6.0]})
    mann = compare_groups(a, b, "dice", ["fold"], unpaired_test="mannwhitney")
    assert mann.p == pytest.approx(2 / 20) and mann.test.startswith("Mann-Whitney U, unpaired 3 vs 3")
    welch = compare_groups(a, b.assign(dice=[2.0, 3.0, 5.0]), "dice", ["fold"])
    # (2 - 3.333) / sqrt(1/3 + 2.333/3) = -1.2649
    assert welch.statistic == pytest.approx(-1.2649, abs=1e-3) and welch.test.startswith("Welch")
    single = compare_groups(a.head(1), b, "dice", ["fold"])
    assert single.test.startswith("none: fewer than 2 runs") and math.isnan(single.p)
    with pytest.raises(WmhmapError, match="unknown test"):
        compare_groups(a, b, "dice", paired_test="sign")


def _runs_table() -> pd.DataFrame:
    rows = [{"run": f"{loss}-{fold}", "loss": loss, "fold": fold, "seed": 0, "val/dice_best": dice}
            for loss, values in DICE.items() for fold, dice in enumerate(values)]
    return pd.DataFrame(rows)


def test_leaderboard_groups_ranks_and_tests_against_the_baseline() -> None:
    board = leaderboard(_runs_table(), ["loss"], "val/dice_best", baseline={"loss": "dice_ce"})
    board = board.set_index("loss")
    assert board.loc["dice_focal", "rank"] == 1 and board.loc["dice_ce", "rank"] == 2
    assert board.loc["tversky", "val/dice_best mean"] == pytest.approx((0.69 + 0.73 + 0.66) / 3)
    assert board.loc["dice_ce", "val/dice_best sd"] == pytest.approx(0.02)
    assert board.loc["dice_focal", "best run"] == "dice_focal-1"
    assert bool(board.loc["dice_ce", "baseline"]) and board.loc["dice_ce", "test"] == "baseline"
    p_focal, p_tversky = _p_t_df2(6.9282), _p_t_df2(-0.75593)   # tversky: mean -0.00667, sd 0.015275
    assert board.loc["dice_focal", "p"] == pytest.approx(p_focal, abs=1e-4)
    assert board.loc["tversky", "p"] == pytest.approx(p_tversky, abs=1e-4)
    # Holm over two tests: the smaller p doubled, the larger kept (monotone)
    assert board.loc["dice_focal", "p adjusted"] == pytest.approx(2 * p_focal, abs=1e-4)
    assert board.loc["tversky", "p adjusted"] == pytest.approx(p_tversky, abs=1e-4)
    assert bool(board.loc["dice_focal", "significant"]) and not bool(board.loc["tversky", "significant"])


def test_leaderboard_baseline_choices() -> None:
    runs = _runs_table()
    best = leaderboard(runs, ["loss"], "val/dice_best", baseline="best")
    assert best.loc[best["baseline"], "loss"].item() == "dice_focal"
    assert leaderboard(runs, ["loss"], "val/dice_best", baseline="tversky").query("baseline")["loss"].item() == "tversky"
    assert "p" not in leaderboard(runs, ["loss"], "val/dice_best", baseline=None).columns
    lower = leaderboard(runs.assign(loss_value=1 - runs["val/dice_best"]), ["loss"], "loss_value",
                        higher_is_better=False, baseline=None)
    assert lower.loc[lower["rank"] == 1, "loss"].item() == "dice_focal"
    with pytest.raises(WmhmapError, match="matches no group"):
        leaderboard(runs, ["loss"], "val/dice_best", baseline={"loss": "dice"})
    with pytest.raises(WmhmapError, match="matches 3 groups"):
        leaderboard(runs, ["loss", "fold"], "val/dice_best", baseline={"loss": "dice_ce"})
    with pytest.raises(WmhmapError, match="not found in the runs"):
        leaderboard(runs, ["loss"], "val/auc")


# ---- config choices ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def train_config() -> dict:
    return plain_config(compose_stage("train", ["experiment=smoke"], "/tmp/wmhmap-report-test"))


def test_config_choices_are_read_back_from_resolved_configs(train_config: dict) -> None:
    config = copy.deepcopy(train_config)
    config["loss"] = yaml.safe_load((Path(CONF_DIR) / "loss" / "tversky.yaml").read_text())
    choices = run_choices(config, CONF_DIR)
    assert choices["loss"] == "tversky" and choices["model"] == "unet" and choices["split"] == "kfold"
    assert choices["experiment_name"] == "smoke" and choices["fold"] == 0 and choices["seed"] == 42
    config["loss"]["region"]["alpha"] = 0.5                      # changed by an override: closest option, starred
    assert infer_choice(config["loss"], "loss", CONF_DIR) == "tversky*"
    assert infer_choice({}, "scheduler", CONF_DIR) == "none"
    assert infer_choice({"_target_": "my.pkg.MyLoss"}, "loss", CONF_DIR) == "MyLoss"


# ---- offline W&B ------------------------------------------------------------------------------------

def test_offline_wandb_training_run_matches_its_run_directory(tiny_demo: Path) -> None:
    paths = find_offline_runs(tiny_demo / "train")
    assert len(paths) == 1
    run = read_offline_run(paths[0])
    metrics = yaml.safe_load((tiny_demo / "train" / "metrics.yaml").read_text())["metrics"]
    assert run.job_type == "train" and run.config["model"]["name"] == "unet"
    assert run.summary["val/dice_best"] == pytest.approx(metrics["val/dice_best"], abs=1e-6)
    assert run.history["val/dice"].dropna().max() == pytest.approx(metrics["val/dice_best"], abs=1e-6)


def test_corrupt_wandb_log_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "offline-run-1-abc" / "run-abc.wandb"
    bad.parent.mkdir()
    bad.write_bytes(b"not a log")
    with pytest.raises(InputError, match="run-abc.wandb: not a W&B transaction log"):
        log_records(bad)


# ---- gathering --------------------------------------------------------------------------------------

def test_gathering_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="run directory not found"):
        gather_runs([tmp_path / "missing"])
    with pytest.raises(InputError, match="glob pattern matches no directory"):
        gather_runs([str(tmp_path / "nothing-*")])
    (tmp_path / "plain").mkdir()
    with pytest.raises(InputError, match="not a run directory"):
        gather_runs([tmp_path / "plain"])
    with pytest.raises(WmhmapError, match="no runs found"):
        run_stage("report", [f"search=[{tmp_path}]", "tracking.mode=disabled"], tmp_path / "report")


# ---- the whole report -------------------------------------------------------------------------------

def _png(path: Path, title: str) -> Path:
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    ax.set_title(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _training_runs(root: Path, base: dict) -> None:
    """Nine training run directories (3 losses x 3 folds) as the train stage writes them."""
    for loss, values in DICE.items():
        for fold, dice in enumerate(values):
            run = root / f"{loss}-fold{fold}"
            (run / "csv").mkdir(parents=True)
            config = copy.deepcopy(base)
            config["loss"] = yaml.safe_load((Path(CONF_DIR) / "loss" / f"{loss}.yaml").read_text())
            config["split"]["fold"], config["seed"], config["experiment_name"] = fold, 0, "bench"
            (run / "config.yaml").write_text(yaml.safe_dump(config))
            curve = [dice * (e + 1) / 3 for e in range(3)]
            (run / "metrics.yaml").write_text(yaml.safe_dump({"metrics": {
                "val/dice_best": dice, "val/dice": dice, "train/loss_epoch": 1 - dice}, "best_checkpoint": ""}))
            pd.DataFrame({"epoch": [0, 0, 1, 1, 2, 2], "step": range(6),
                          "train/loss_epoch": [1.0, None, 0.8, None, 1 - dice, None],
                          "val/dice": [None, curve[0], None, curve[1], None, curve[2]]}).to_csv(
                run / "csv" / "metrics.csv", index=False)


def _classify_run(run: Path) -> None:
    run.mkdir(parents=True)
    pd.DataFrame({"feature set": ["Global WMH", "Regional WMH"], "CN_vs_AD": ["0.61 [0.50, 0.72]", "0.74 [0.65, 0.83]"]}
                 ).to_csv(run / "results.csv", index=False)
    pd.DataFrame({"task": "CN_vs_AD", "feature_set": ["global", "regional"], "label": ["Global WMH", "Regional WMH"],
                  "n": 40, "auc": [0.61, 0.74], "auc_ci_low": [0.50, 0.65], "auc_ci_high": [0.72, 0.83]}
                 ).to_csv(run / "summary.csv", index=False)
    _png(run / "roc_CN_vs_AD.png", "ROC")


def _chromium(page: Path, tmp_path: Path, *mode: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp_path / 'chromium-profile'}", "--virtual-time-budget=5000",
                           "--hide-scrollbars", "--window-size=1280,3000", *mode, page.as_uri()],
                          capture_output=True, text=True, timeout=120)


def test_report_over_real_and_generated_runs(tmp_path: Path, tiny_demo: Path, train_config: dict) -> None:
    _training_runs(tmp_path / "runs" / "bench", train_config)
    _classify_run(tmp_path / "runs" / "classify")
    out = tmp_path / "report"
    n_runs, _ = run_stage("report", [f"search=[{tmp_path / 'runs'},{tiny_demo}]", f"wandb_dirs=[{tiny_demo}]",
                                     "group_by=[experiment_name,loss]", "baseline={experiment_name:bench,loss:dice_ce}",
                                     "title=Loss benchmark"], out)
    assert run_kind(tiny_demo / "evaluate") == "evaluate"
    # 9 generated + the demo's training run, its evaluation, the classify run, and the demo's other W&B runs
    others = [p for p in find_offline_runs(tiny_demo) if not p.is_relative_to(tiny_demo / "train")
              and not p.is_relative_to(tiny_demo / "evaluate")]
    assert n_runs == 9 + 1 + 1 + 1 + len(others)

    board = pd.read_csv(out / "leaderboard.csv").set_index("group")
    focal = board.loc["experiment_name=bench, loss=dice_focal"]
    assert focal["n"] == 3 and focal["rank"] == 1 and focal["p"] == pytest.approx(_p_t_df2(6.9282), abs=1e-4)
    assert "paired t-test, 3 pairs" in focal["test"]
    assert board.loc["experiment_name=smoke, loss=dice_ce", "n"] == 1        # the demo's run
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 10 and set(runs["loss"]) == {"dice_ce", "dice_focal", "tversky"}
    assert (pd.read_csv(out / "evaluation.csv")["grouping"] == "all").sum() == 1
    assert set(pd.read_csv(out / "classification.csv")["feature_set"]) == {"global", "regional"}
    markdown = (out / "report.md").read_text()
    assert "# Loss benchmark" in markdown and "## Leaderboard" in markdown and "dice_focal" in markdown
    page = (out / "report.html").read_text()
    assert page.count("<img") >= 5 and 'src="data:image/png;base64,' in page
    assert "http://" not in page and "https://" not in page and "<link" not in page

    if CHROMIUM is None:
        pytest.skip("no Chromium binary (chromium, chromium-browser, google-chrome) to render the page")
    dom = _chromium(out / "report.html", tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-rendered="ok"' in dom.stdout, dom.stdout[:3000]
    assert dom.stdout.count("<table") >= 5 and "Leaderboard" in dom.stdout and "Classification" in dom.stdout
    shot = _chromium(out / "report.html", tmp_path, f"--screenshot={tmp_path / 'report.png'}")
    assert shot.returncode == 0 and (tmp_path / "report.png").stat().st_size > 20_000


def test_render_check_reports_a_broken_image(tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("no Chromium binary (chromium, chromium-browser, google-chrome) to render the page")
    good, bad = _png(tmp_path / "good.png", "fine"), tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    page = tmp_path / "page.html"
    page.write_text(render_html("t", [Section("s", [Table(pd.DataFrame({"a": [1.5]})), Image(good, "good one"),
                                                    Image(bad, "broken one")])]))
    dom = _chromium(page, tmp_path, "--dump-dom")
    assert 'data-rendered="failed"' in dom.stdout and 'data-failures="broken one"' in dom.stdout
