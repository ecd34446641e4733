"""The LightningDataModule: manifest -> subject-level split -> cached preprocessed arrays ->
augmented random patches for training and whole volumes for validation."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytorch_lightning as pl
import torchio as tio
from torch.utils.data import DataLoader

from wmhmap.data.manifest import read_manifest
from wmhmap.errors import WmhmapError
from wmhmap.preprocessing import PreprocessCache, preprocess_config, preprocess_manifest
from wmhmap.training.patches import PatchDataset, VolumeArrays, VolumeDataset
from wmhmap.training.splits import Split

__all__ = ["WMHDataModule"]


class WMHDataModule(pl.LightningDataModule):
    """Patches and validation volumes of one split of a manifest, preprocessed through the cache."""

    def __init__(
        self,
        manifest_path: str | Path,
        cache_dir: str | Path,
        preprocessing: Mapping[str, Any],
        split: Callable[[pd.DataFrame], Split],
        patch_size: Sequence[int],
        batch_size: int = 2,
        samples_per_epoch: int = 250,
        foreground_probability: float = 0.33,
        augmentation: tio.Transform | None = None,
        augmentation_margin: int = 8,
        num_workers: int = 0,
        max_val_subjects: int | None = None,
    ):
        super().__init__()
        self.manifest_path = Path(manifest_path)
        self.cache_dir = Path(cache_dir)
        self.preprocessing = dict(preprocessing)
        self.split_fn = split
        self.patch_size = tuple(int(p) for p in patch_size)
        self.batch_size = int(batch_size)
        self.samples_per_epoch = int(samples_per_epoch)
        self.foreground_probability = float(foreground_probability)
        self.augmentation = augmentation
        self.augmentation_margin = int(augmentation_margin)
        self.num_workers = int(num_workers)
        self.max_val_subjects = max_val_subjects
        self.split: Split | None = None
        self.preprocess_config: Any = None
        self.train_volumes: list[VolumeArrays] = []
        self.val_volumes: list[VolumeArrays] = []

    def _split(self) -> tuple[Split, Any]:
        if not self.manifest_path.is_file():
            raise WmhmapError(f"{self.manifest_path}: no manifest; run `wmhmap-prepare` for this dataset first")
        manifest = read_manifest(self.manifest_path)
        split = self.split_fn(manifest)
        if self.max_val_subjects is not None:
            keep = split.val["subject_id"].drop_duplicates().iloc[: int(self.max_val_subjects)]
            split = Split(split.train, split.val[split.val["subject_id"].isin(keep)], split.name)
        return split, preprocess_config(self.preprocessing, manifest)

    def prepare_data(self) -> None:
        split, config = self._split()
        rows = pd.concat([split.train, split.val])
        preprocess_manifest(rows, config, self.cache_dir, workers=max(1, self.num_workers))

    def setup(self, stage: str | None = None) -> None:
        if self.split is not None:
            return
        self.split, config = self._split()
        self.preprocess_config = config
        cache = PreprocessCache(self.cache_dir, config)

        def load(rows: pd.DataFrame) -> list[VolumeArrays]:
            volumes = []
            for row in rows.to_dict("records"):
                pre = cache.get(row)
                volumes.append(VolumeArrays.from_arrays(row["subject_id"], row["session"], pre.image, pre.label))
            return volumes

        self.train_volumes = load(self.split.train)
        self.val_volumes = load(self.split.val)

    def train_dataloader(self) -> DataLoader:
        dataset = PatchDataset(
            self.train_volumes,
            self.patch_size,
            self.samples_per_epoch,
            self.foreground_probability,
            self.augmentation,
            self.augmentation_margin,
        )
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            drop_last=True,
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(VolumeDataset(self.val_volumes), batch_size=1, num_workers=0)
