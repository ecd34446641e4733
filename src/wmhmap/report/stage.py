"""The report stage: gather run directories and offline W&B runs, build the training leaderboard and
the evaluation and classification tables, draw the plots, and write Markdown, CSV and one
self-contained HTML page to the run directory (and log them to W&B)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from wmhmap.errors import WmhmapError
from wmhmap.io.atomic import atomic_path, write_table
from wmhmap.report.choices import CHOICE_GROUPS
from wmhmap.report.gather import Gathered, gather_runs, short_labels
from wmhmap.report.leaderboard import group_labels, leaderboard, varying_columns
from wmhmap.report.page import Image, Section, Table, Text, render_html, render_markdown
from wmhmap.report.plots import leaderboard_plot, training_curves_plot
from wmhmap.report.tables import classification_table, evaluation_table, paper_tables
from wmhmap.report.training import TrainingRun, read_training_run, training_run_from_wandb
from wmhmap.report.wandb_offline import OfflineRun, find_offline_runs, read_offline_run
from wmhmap.tracking import log_figure, log_table, tracked_run

__all__ = ["ReportOutcome", "GROUP_CANDIDATES", "build_report", "run_report"]

log = logging.getLogger(__name__)

GROUP_CANDIDATES = ("experiment_name", *CHOICE_GROUPS, "site", "max_epochs", "lr")
"""Run columns that ``group_by: auto`` groups by when their values differ between runs."""


@dataclass
class ReportOutcome:
    """What a report covered and wrote."""

    n_runs: int
    runs: pd.DataFrame
    leaderboard: pd.DataFrame
    evaluation: pd.DataFrame
    classification: pd.DataFrame
    wandb_runs: pd.DataFrame
    page: Path
    markdown: Path
    figures: list[Path] = field(default_factory=list)


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


def _inside(path: Path, folders: Sequence[Path]) -> bool:
    return any(path.is_relative_to(folder) for folder in folders)


def _wandb_runs(folders: Sequence[str], gathered: Gathered) -> list[OfflineRun]:
    """Offline W&B runs under ``folders`` that do not belong to a run directory gathered already."""
    runs = []
    for folder in folders:
        for path in find_offline_runs(folder):
            if not _inside(path.absolute(), gathered.all()):
                runs.append(read_offline_run(path))
    return runs


def _group_by(spec: Any, runs: pd.DataFrame) -> list[str]:
    if spec in (None, "auto"):
        keys = varying_columns(runs, GROUP_CANDIDATES)
        return keys or ["experiment_name"]
    keys = [spec] if isinstance(spec, str) else list(spec)
    unknown = [k for k in keys if k not in runs.columns]
    if unknown:
        raise WmhmapError(f"group_by keys {unknown} are not run columns ({sorted(runs.columns)})")
    return keys


def _display_order(board: pd.DataFrame, group_by: Sequence[str], metric: str) -> pd.DataFrame:
    """Leaderboard columns for reading: rank, group, the metric and its test, then the rest."""
    first = ["rank", *group_by, "n", f"{metric} mean", f"{metric} sd", "difference", "p", "p adjusted",
             "significant", "test", "best run", f"best {metric}"]
    first = [c for c in first if c in board.columns]
    rest = [c for c in board.columns if c not in first and c not in ("group", "baseline", *group_by)]
    return board[first + rest]


def _training_table(training: list[TrainingRun], labels: dict[Path, str]) -> pd.DataFrame:
    rows = [{"run": labels[t.path], **t.row, "source": t.source, "path": str(t.path)} for t in training]
    return pd.DataFrame(rows)


def _images(folder: Path, patterns: Sequence[str]) -> list[Path]:
    found: list[Path] = []
    for pattern in patterns:
        found.extend(p for p in sorted(folder.glob(pattern)) if p not in found)
    return found


def build_report(cfg: DictConfig, run_dir: Path) -> ReportOutcome:
    """Gather, tabulate, plot and write the report files (no W&B)."""
    from wmhmap.cli.common import CONF_DIR

    gathered = gather_runs(_plain(cfg.runs) or [], _plain(cfg.search) or [])
    offline = _wandb_runs(_plain(cfg.wandb_dirs) or [], gathered)
    training = [read_training_run(p, CONF_DIR) for p in gathered.train]
    training += [training_run_from_wandb(r, CONF_DIR) for r in offline if r.job_type == "train"]
    others = [r for r in offline if r.job_type != "train"]
    n_runs = len(training) + len(gathered.evaluate) + len(gathered.classify) + len(others)
    if n_runs == 0:
        raise WmhmapError(f"no runs found (runs={_plain(cfg.runs)}, search={_plain(cfg.search)}, "
                          f"wandb_dirs={_plain(cfg.wandb_dirs)})")
    labels = short_labels([t.path for t in training] + gathered.evaluate + gathered.classify + [r.path for r in others])
    for t in training:  # a W&B run is better known by its name, where that is unique
        if t.name and t.name not in labels.values():
            labels[t.path] = t.name
    figures_dir = run_dir / "figures"
    digits = int(cfg.digits)
    sections: list[Section] = []
    figures: list[Path] = []

    runs = _training_table(training, labels)
    board = pd.DataFrame()
    if training:
        group_by = _group_by(_plain(cfg.group_by), runs)
        metric = cfg.metric
        board = leaderboard(runs, group_by, metric, metrics=list(cfg.metrics), higher_is_better=cfg.higher_is_better,
                            baseline=_plain(cfg.baseline), pair_on=list(cfg.pair_on),
                            paired_test=cfg.significance.paired, unpaired_test=cfg.significance.unpaired,
                            correction=cfg.significance.correction, alpha=cfg.significance.alpha)
        shown = _display_order(board, group_by, metric)
        blocks: list[Any] = [Text(f"{len(runs)} training run(s) in {len(board)} group(s) by {', '.join(group_by)}; "
                                  f"ranked by mean {metric} ({'higher' if cfg.higher_is_better else 'lower'} is better)."
                                  + (" Each group is tested against the baseline; the test column says which test "
                                     f"and on what; p adjusted: {cfg.significance.correction or 'none'}."
                                     if "baseline" in board.columns else "")),
                             Table(shown, "Leaderboard")]
        bar = leaderboard_plot(board, metric, figures_dir / "leaderboard.png")
        figures.append(bar)
        blocks.append(Image(bar, f"Leaderboard: mean {metric} per group"))
        sections.append(Section("Leaderboard", blocks))

        group_of = dict(zip(runs["run"], group_labels(runs, group_by), strict=True))
        curves = {labels[t.path]: t.curves for t in training if not t.curves.empty}
        blocks = [Table(runs.drop(columns=["path"]), "One row per training run")]
        if len(curves) > int(cfg.plots.max_curve_runs):
            blocks.append(Text(f"Training curves of the first {cfg.plots.max_curve_runs} of {len(curves)} runs."))
            curves = dict(list(curves.items())[: int(cfg.plots.max_curve_runs)])
        curve_plot = training_curves_plot(curves, group_of, list(cfg.plots.curves), figures_dir / "training_curves.png")
        if curve_plot is not None:
            figures.append(curve_plot)
            blocks.append(Image(curve_plot, "Training curves per run (colour: group)"))
        for t in training[: int(cfg.plots.overlays)]:
            overlays = sorted((t.path / "overlays").glob("epoch*.png"))
            if overlays:
                blocks.append(Image(overlays[-1], f"{labels[t.path]}: validation overlay ({overlays[-1].stem})"))
        sections.append(Section("Training runs", blocks))

    evaluation = evaluation_table({labels[p]: p for p in gathered.evaluate})
    if not evaluation.empty:
        blocks = [Table(evaluation, "Segmentation metrics (means) per evaluate run and group; volume agreement on the 'all' rows")]
        for path in gathered.evaluate:
            blocks += [Image(png, f"{labels[path]}: {png.stem}") for png in _images(path, ["*.png"])]
        sections.append(Section("Evaluation", blocks))

    classification = classification_table({labels[p]: p for p in gathered.classify})
    if not classification.empty:
        blocks = [Table(classification, "AUC per classify run, task and feature set")]
        for label, table in paper_tables({labels[p]: p for p in gathered.classify}).items():
            blocks.append(Table(table, f"{label}: AUC [95% CI]"))
        for path in gathered.classify:
            blocks += [Image(png, f"{labels[path]}: {png.stem}") for png in _images(path, ["roc_*.png", "forest_*.png"])]
        sections.append(Section("Classification", blocks))

    wandb_table = pd.DataFrame([{"run": labels[r.path], "job_type": r.job_type, "group": r.group, "name": r.name,
                                 **{k: v for k, v in r.summary.items() if not k.startswith("_")
                                    and isinstance(v, int | float) and not isinstance(v, bool)}} for r in others])
    if not wandb_table.empty:
        sections.append(Section("Other W&B runs", [Table(wandb_table, "Final summaries of offline W&B runs")]))

    subtitle = (f"{len(training)} training, {len(gathered.evaluate)} evaluation, {len(gathered.classify)} "
                f"classification and {len(others)} other W&B run(s). Written by wmhmap-report to {run_dir}.")
    for name, frame in (("runs", runs), ("leaderboard", board), ("evaluation", evaluation),
                        ("classification", classification), ("wandb_runs", wandb_table)):
        if not frame.empty:
            write_table(frame, run_dir / f"{name}.csv")
    page, markdown = run_dir / "report.html", run_dir / "report.md"
    with atomic_path(page) as tmp:
        tmp.write_text(render_html(cfg.title, sections, subtitle, digits), encoding="utf-8")
    with atomic_path(markdown) as tmp:
        tmp.write_text(render_markdown(cfg.title, sections, subtitle, digits, relative_to=run_dir), encoding="utf-8")
    log.info("report: %s", page)
    return ReportOutcome(n_runs, runs, board, evaluation, classification, wandb_table, page, markdown, figures)


def run_report(cfg: DictConfig, run_dir: Path) -> ReportOutcome:
    """Build the report in ``run_dir`` and log its tables, figures and page to W&B."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with tracked_run(cfg.tracking, "report", run_dir, cfg) as run:
        outcome = build_report(cfg, run_dir)
        for key, frame in (("report/runs", outcome.runs), ("report/leaderboard", outcome.leaderboard),
                           ("report/evaluation", outcome.evaluation), ("report/classification", outcome.classification)):
            if not frame.empty:
                log_table(run, key, frame)
        for figure in outcome.figures:
            log_figure(run, f"report/{figure.stem}", figure)
        if run is not None:
            import wandb

            run.log({"report/page": wandb.Html(outcome.page.read_text(encoding="utf-8"))})
            run.summary["n_runs"] = outcome.n_runs
    return outcome
