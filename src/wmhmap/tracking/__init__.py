"""Experiment tracking: W&B runs that are offline by default and always closed."""

from wmhmap.tracking.wandb_run import log_figure, log_table, plain_config, tracked_run, wandb_settings_env

__all__ = ["tracked_run", "log_table", "log_figure", "wandb_settings_env", "plain_config"]
