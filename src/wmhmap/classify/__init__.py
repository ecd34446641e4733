"""Downstream classification: feature sets, nested CV with Optuna, AUC statistics, region associations."""

from wmhmap.classify.nested_cv import CVSettings, NestedCVResult, nested_cv
from wmhmap.classify.stage import ClassifyOutcome, run_classify

__all__ = ["CVSettings", "NestedCVResult", "nested_cv", "ClassifyOutcome", "run_classify"]
