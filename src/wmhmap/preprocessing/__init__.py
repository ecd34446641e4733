"""Preprocessing: canonical orientation, resampling, brain mask, z-score, crop; an on-disk cache; and the
inverse that puts network outputs back on each input's own grid."""

from wmhmap.preprocessing.cache import (
    PreprocessCache,
    cache_key,
    load_preprocessed,
    preprocess_manifest,
    save_preprocessed,
)
from wmhmap.preprocessing.config import PreprocessConfig, preprocess_config
from wmhmap.preprocessing.pipeline import (
    NativeGrid,
    Preprocessed,
    preprocess_subject,
    to_native,
    to_native_array,
)
from wmhmap.preprocessing.spacing import median_spacing

__all__ = [
    "PreprocessConfig",
    "preprocess_config",
    "median_spacing",
    "NativeGrid",
    "Preprocessed",
    "preprocess_subject",
    "to_native",
    "to_native_array",
    "PreprocessCache",
    "cache_key",
    "save_preprocessed",
    "load_preprocessed",
    "preprocess_manifest",
]
