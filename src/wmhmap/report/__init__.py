"""Reports over many runs: leaderboards of training runs grouped by config, evaluation and
classification tables, plots, and one self-contained HTML page."""

from wmhmap.report.gather import Gathered, gather_runs, run_kind, search_runs
from wmhmap.report.leaderboard import Comparison, compare_groups, leaderboard
from wmhmap.report.stage import ReportOutcome, build_report, run_report
from wmhmap.report.wandb_offline import OfflineRun, find_offline_runs, read_offline_run

__all__ = ["Gathered", "gather_runs", "run_kind", "search_runs", "Comparison", "compare_groups", "leaderboard",
           "ReportOutcome", "build_report", "run_report", "OfflineRun", "find_offline_runs", "read_offline_run"]
