"""Inference: fold-ensembled, mirror-TTA sliding-window prediction written back on the native grid."""

from wmhmap.inference.predictor import Predictor, PredictorSettings

__all__ = ["Predictor", "PredictorSettings"]
