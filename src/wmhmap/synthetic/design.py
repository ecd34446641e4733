"""The cohort's design table: who is scanned where, with which diagnosis, age, sex and visits, and the
subject-level train/test split (stratified by site; all visits of a subject on the same side)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["allocate", "split_by_site", "draw_subjects", "visit_rows"]


def allocate(rng: np.random.Generator, n: int, weights: Mapping[str, float]) -> np.ndarray:
    """``n`` labels in proportion to ``weights`` (largest-remainder rounding, so small cohorts still get
    every label with a share of at least 1/n), in random order."""
    names = list(weights)
    share = np.array([weights[k] for k in names], dtype=float)
    if n < 0 or share.min() < 0 or share.sum() <= 0:
        raise ValueError(f"cannot allocate {n} items with weights {dict(weights)}")
    exact = share / share.sum() * n
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    labels = np.repeat(np.array(names, dtype=object), counts)
    return rng.permutation(labels)


def split_by_site(rng: np.random.Generator, sites: Sequence[str], test_fraction: float) -> np.ndarray:
    """'train'/'test' per subject; within each site test_fraction * n subjects (rounded half up, at least
    one left for training) go to test."""
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    sites = np.asarray(sites, dtype=object)
    split = np.full(len(sites), "train", dtype=object)
    for site in sorted(set(sites)):
        members = rng.permutation(np.nonzero(sites == site)[0])
        n_test = min(int(np.floor(test_fraction * len(members) + 0.5)), len(members) - 1)
        split[members[: max(n_test, 0)]] = "test"
    return split


def draw_subjects(
    rng: np.random.Generator,
    n_subjects: int,
    site_weights: Mapping[str, float],
    diagnosis_fractions: Mapping[str, float],
    age_mean: float,
    age_sd: float,
    age_range: Sequence[float],
    female_fraction: float,
    visit_weights: Sequence[float],
    test_fraction: float,
) -> pd.DataFrame:
    """One row per subject: subject_index, subject_id, site, diagnosis, sex, baseline_age, n_visits, split. Sites, diagnoses,
    sexes and visit counts (``visit_weights[k]``: share with k + 1 visits) are allocated in proportion."""
    if n_subjects < 1:
        raise ValueError(f"n_subjects must be at least 1, got {n_subjects}")
    low, high = age_range
    sites = allocate(rng, n_subjects, site_weights)
    frame = pd.DataFrame(
        {
            "subject_index": np.arange(n_subjects),
            "subject_id": [f"sub-{i + 1:03d}" for i in range(n_subjects)],
            "site": sites,
            "diagnosis": allocate(rng, n_subjects, diagnosis_fractions),
            "sex": allocate(rng, n_subjects, {"F": female_fraction, "M": 1.0 - female_fraction}),
            "baseline_age": np.round(np.clip(rng.normal(age_mean, age_sd, n_subjects), low, high), 1),
            "n_visits": allocate(
                rng, n_subjects, {str(k + 1): w for k, w in enumerate(visit_weights)}
            ).astype(int),
            "split": split_by_site(rng, sites, test_fraction),
        }
    )
    return frame


def visit_rows(
    rng: np.random.Generator, subjects: pd.DataFrame, interval_years: Sequence[float]
) -> pd.DataFrame:
    """One row per subject-visit: session 'ses-01', 'ses-02', ... at ages increasing by ``interval_years`` (range)."""
    rows = []
    for subject in subjects.itertuples(index=False):
        gaps = np.concatenate([[0.0], rng.uniform(*interval_years, subject.n_visits - 1)])
        for visit, years in enumerate(np.cumsum(gaps)):
            rows.append(
                {
                    **subject._asdict(),
                    "session": f"ses-{visit + 1:02d}",
                    "visit_index": visit,
                    "years_since_baseline": round(float(years), 2),
                    "age": round(subject.baseline_age + float(years), 1),
                }
            )
    return pd.DataFrame(rows)
