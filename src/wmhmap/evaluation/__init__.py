"""Evaluation: the WMH challenge metrics per subject, summaries per site and lesion load, volume agreement."""

from wmhmap.evaluation.metrics import challenge_scores
from wmhmap.evaluation.pair import METRICS, EmptyMaskWarning, evaluate_pair

__all__ = ["evaluate_pair", "challenge_scores", "EmptyMaskWarning", "METRICS"]
