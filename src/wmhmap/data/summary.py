"""Cohort summary tables: subjects per site, diagnosis and split, and lesion-load quartiles."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from wmhmap.data.nifti import load_labels, voxel_volume_ml

__all__ = ["lesion_load_ml", "cohort_counts", "lesion_load_quartiles"]


def lesion_load_ml(manifest: pd.DataFrame) -> pd.Series:
    """Reference WMH volume (label 1, mL) per row; NaN where the row has no reference."""
    loads = []
    for path in manifest["wmh"]:
        if pd.isna(path):
            loads.append(np.nan)
            continue
        image = load_labels(path)
        loads.append(float((np.asarray(image.dataobj) == 1).sum()) * voxel_volume_ml(image))
    return pd.Series(loads, index=manifest.index, name="wmh_ml")


def cohort_counts(manifest: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Subjects and visits per combination of the ``by`` columns (blank values shown as '-')."""
    by = [c for c in by if c in manifest.columns]
    frame = manifest.assign(**{c: manifest[c].fillna("-") for c in by})
    counts = frame.groupby(by, dropna=False).agg(subjects=("subject_id", "nunique"), visits=("session", "size"))
    return counts.reset_index()


def lesion_load_quartiles(manifest: pd.DataFrame, loads: pd.Series) -> pd.DataFrame:
    """Min, quartiles and max of the reference lesion load (mL) per site and overall."""
    frame = manifest.assign(wmh_ml=loads).dropna(subset=["wmh_ml"])
    if frame.empty:
        return pd.DataFrame(columns=["site", "n", "min", "q1", "median", "q3", "max"])

    def describe(values: pd.Series) -> dict[str, float]:
        q = np.percentile(values, [0, 25, 50, 75, 100])
        return {"n": len(values), "min": q[0], "q1": q[1], "median": q[2], "q3": q[3], "max": q[4]}

    rows = [{"site": site, **describe(group["wmh_ml"])} for site, group in frame.groupby("site")]
    rows.append({"site": "all", **describe(frame["wmh_ml"])})
    return pd.DataFrame(rows).round(2)
