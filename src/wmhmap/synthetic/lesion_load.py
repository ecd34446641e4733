"""How much WMH a subject-visit carries and where: total load grows with age (and a little with
diagnosis); the share of each generator region shifts with diagnosis, so location carries more
diagnostic signal than total load."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from wmhmap.synthetic.template import REGION_NAMES

__all__ = ["LesionLoadModel", "LesionLatents", "draw_lesion_latents", "regional_targets"]


@dataclass(frozen=True)
class LesionLoadModel:
    """log(total mL) = log(median_ml) + log_per_year * (age - reference_age) + diagnosis_log_shift + subject_log_sd * z;
    region shares = softmax(region_logits + diagnosis_region_shift on ``diagnosis_region`` + region_sd * z_region)."""

    median_ml: float = 3.0
    reference_age: float = 70.0
    log_per_year: float = 0.06
    diagnosis_log_shift: Mapping[str, float] = field(
        default_factory=lambda: {"CN": 0.0, "MCI": 0.1, "AD": 0.25}
    )
    subject_log_sd: float = 0.9
    max_total_ml: float = 60.0
    region_logits: Mapping[str, float] = field(
        default_factory=lambda: {
            "periventricular_anterior": 0.0,
            "periventricular_posterior": 0.3,
            "deep": -0.2,
        }
    )
    diagnosis_region: str = "periventricular_anterior"
    diagnosis_region_shift: Mapping[str, float] = field(
        default_factory=lambda: {"CN": 0.0, "MCI": 0.4, "AD": 0.9}
    )
    region_sd: float = 0.45

    def __post_init__(self) -> None:
        regions = set(REGION_NAMES.values())
        if set(self.region_logits) != regions:
            raise ValueError(
                f"region_logits must name exactly the regions {sorted(regions)}, got {sorted(self.region_logits)}"
            )
        if self.diagnosis_region not in regions:
            raise ValueError(
                f"diagnosis_region must be one of {sorted(regions)}, got {self.diagnosis_region!r}"
            )


@dataclass(frozen=True)
class LesionLatents:
    """A subject's lesion deviations in sds, fixed across visits: total load, and one per region."""

    z_total: float
    z_regions: Mapping[str, float]


def draw_lesion_latents(rng: np.random.Generator) -> LesionLatents:
    """Independent standard-normal deviations for the total and for each region."""
    z_total = float(rng.normal())
    return LesionLatents(z_total, {name: float(rng.normal()) for name in REGION_NAMES.values()})


def regional_targets(
    age: float, diagnosis: str, latents: LesionLatents, model: LesionLoadModel
) -> dict[str, float]:
    """Target WMH volume (mL, subject space) per generator region for one visit."""
    log_total = (
        np.log(model.median_ml)
        + model.log_per_year * (age - model.reference_age)
        + model.diagnosis_log_shift[diagnosis]
        + model.subject_log_sd * latents.z_total
    )
    total = min(float(np.exp(log_total)), model.max_total_ml)
    names = list(REGION_NAMES.values())
    logits = np.array([model.region_logits[n] + model.region_sd * latents.z_regions[n] for n in names])
    logits[names.index(model.diagnosis_region)] += model.diagnosis_region_shift[diagnosis]
    shares = np.exp(logits - logits.max())
    shares /= shares.sum()
    return {name: total * float(share) for name, share in zip(names, shares, strict=True)}
