"""Subject-level train/validation splits: visits of one subject never cross folds."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

__all__ = ["Split", "KFoldSplit", "LeaveOneSiteOutSplit", "OfficialSplit", "FixedSplit"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Split:
    """Rows of a manifest for training and for validation."""

    train: pd.DataFrame
    val: pd.DataFrame
    name: str

    def __post_init__(self) -> None:
        overlap = set(self.train["subject_id"]) & set(self.val["subject_id"])
        if overlap:
            raise ValueError(f"split {self.name}: subjects on both sides: {sorted(overlap)}")
        if self.train.empty or self.val.empty:
            raise ValueError(f"split {self.name}: {len(self.train)} training and {len(self.val)} validation rows")


def _labelled(manifest: pd.DataFrame) -> pd.DataFrame:
    return manifest[manifest["wmh"].notna()]


@dataclass(frozen=True)
class KFoldSplit:
    """k-fold over subjects of the training pool, stratified by site (sklearn StratifiedGroupKFold)."""

    n_folds: int = 5
    fold: int = 0
    seed: int = 0
    pool: Sequence[str] = ("train",)

    def __call__(self, manifest: pd.DataFrame) -> Split:
        if not 0 <= self.fold < self.n_folds:
            raise ValueError(f"fold {self.fold} is outside 0..{self.n_folds - 1}")
        rows = _labelled(manifest)
        rows = rows[rows["split"].isin(list(self.pool))].reset_index(drop=True)
        if rows["subject_id"].nunique() < self.n_folds:
            raise ValueError(f"{rows['subject_id'].nunique()} labelled subjects cannot make {self.n_folds} folds")
        sites = rows.drop_duplicates("subject_id")["site"].astype(str).value_counts()
        if sites.min() >= self.n_folds:
            folds = StratifiedGroupKFold(n_splits=self.n_folds, shuffle=True, random_state=self.seed)
        else:  # a site too small to appear in every fold: stratification is impossible, group only
            log.warning("site(s) with fewer than %d subjects: folds are grouped by subject, not stratified by site",
                        self.n_folds)
            folds = GroupKFold(n_splits=self.n_folds, shuffle=True, random_state=self.seed)
        parts = list(folds.split(rows, rows["site"].astype(str), groups=rows["subject_id"]))
        train_idx, val_idx = parts[self.fold]
        return Split(rows.iloc[train_idx], rows.iloc[val_idx], f"kfold{self.n_folds}_fold{self.fold}")


@dataclass(frozen=True)
class LeaveOneSiteOutSplit:
    """Hold out one site for validation: by name, or the ``fold``-th site in sorted order."""

    site: str | None = None
    fold: int = 0
    pool: Sequence[str] = ("train", "test")

    def __call__(self, manifest: pd.DataFrame) -> Split:
        rows = _labelled(manifest)
        rows = rows[rows["split"].isin(list(self.pool))]
        sites = sorted(rows["site"].astype(str).unique())
        held_out = self.site if self.site is not None else sites[self.fold % len(sites)]
        if held_out not in sites:
            raise ValueError(f"site {held_out!r} not in the cohort's sites {sites}")
        is_val = rows["site"].astype(str) == held_out
        return Split(rows[~is_val], rows[is_val], f"loso_{held_out}")


@dataclass(frozen=True)
class OfficialSplit:
    """The dataset's own split column: train on ``train_split`` rows, validate on ``val_split`` rows."""

    train_split: str = "train"
    val_split: str = "test"

    def __call__(self, manifest: pd.DataFrame) -> Split:
        rows = _labelled(manifest)
        return Split(rows[rows["split"] == self.train_split], rows[rows["split"] == self.val_split], "official")


@dataclass(frozen=True)
class FixedSplit:
    """An explicit list of validation subjects; every other labelled subject of the pool trains."""

    val_subjects: Sequence[str] = ()
    pool: Sequence[str] = ("train",)

    def __call__(self, manifest: pd.DataFrame) -> Split:
        rows = _labelled(manifest)
        rows = rows[rows["split"].isin(list(self.pool))]
        unknown = sorted(set(self.val_subjects) - set(rows["subject_id"]))
        if unknown:
            raise ValueError(f"validation subjects not in the labelled pool: {unknown}")
        is_val = rows["subject_id"].isin(list(self.val_subjects))
        return Split(rows[~is_val], rows[is_val], "fixed")

