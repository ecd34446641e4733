"""Regional WMH quantification: atlases and region schemes (JHU, Eve-34, bullseye, depth bands, the
built-in scheme, any user atlas), subject-to-template registration, and regional volume maths."""

from wmhmap.regions.atlas import Atlas, load_atlas, load_eve34_atlas, read_label_table
from wmhmap.regions.quantify import Quantifier, StructureSources, SubjectResult, quantify_cohort, wide_table
from wmhmap.regions.registration import (
    RegistrationResult,
    RegistrationSettings,
    TransformCache,
    propagate,
    register,
)
from wmhmap.regions.schemes import (
    AtlasScheme,
    BuiltinScheme,
    BullseyeScheme,
    DepthScheme,
    Eve34Scheme,
    Scheme,
)
from wmhmap.regions.volumes import regional_volumes

__all__ = [
    "Atlas",
    "load_atlas",
    "load_eve34_atlas",
    "read_label_table",
    "Quantifier",
    "StructureSources",
    "SubjectResult",
    "quantify_cohort",
    "wide_table",
    "RegistrationResult",
    "RegistrationSettings",
    "TransformCache",
    "propagate",
    "register",
    "Scheme",
    "AtlasScheme",
    "BuiltinScheme",
    "BullseyeScheme",
    "DepthScheme",
    "Eve34Scheme",
    "regional_volumes",
]
