"""Patch sampling for training (foreground oversampling, augmentation on a margin-padded crop)
and whole-volume items for validation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torchio as tio
from torch.utils.data import Dataset

__all__ = ["VolumeArrays", "crop_padded", "sample_center", "PatchDataset", "VolumeDataset"]


@dataclass
class VolumeArrays:
    """One preprocessed subject as arrays: image (C, X, Y, Z) float32, label (X, Y, Z) uint8."""

    subject_id: str
    session: str
    image: np.ndarray
    label: np.ndarray
    foreground: np.ndarray  # (N, 3) voxel indices of label 1, precomputed for oversampling

    @classmethod
    def from_arrays(cls, subject_id: str, session: str, image: np.ndarray, label: np.ndarray) -> VolumeArrays:
        return cls(subject_id, session, image.astype(np.float32, copy=False), label, np.argwhere(label == 1))


def crop_padded(array: np.ndarray, start: Sequence[int], size: Sequence[int]) -> np.ndarray:
    """Crop ``size`` voxels from ``start`` over the last three axes, zero-padding outside the array."""
    spatial = array.shape[-3:]
    out = np.zeros(array.shape[:-3] + tuple(size), dtype=array.dtype)
    src, dst = [], []
    for s, n, dim in zip(start, size, spatial, strict=True):
        lo, hi = max(s, 0), min(s + n, dim)
        if hi <= lo:
            return out
        src.append(slice(lo, hi))
        dst.append(slice(lo - s, hi - s))
    out[(..., *dst)] = array[(..., *src)]
    return out


def sample_center(volume: VolumeArrays, rng: np.random.Generator, foreground_probability: float) -> np.ndarray:
    """A patch centre: a random lesion voxel with ``foreground_probability`` (if any), else any voxel."""
    if len(volume.foreground) and rng.random() < foreground_probability:
        return volume.foreground[rng.integers(len(volume.foreground))]
    return np.array([rng.integers(n) for n in volume.label.shape])


class PatchDataset(Dataset):
    """Random patches drawn across subjects; ``length`` patches make an epoch.

    Randomness comes from torch's generator (seeded per worker by Lightning), so a run is
    reproducible for a seed. Augmentation runs on a crop padded by ``margin`` voxels per side, then the
    centre patch is kept: TorchIO's elastic and bias-field transforms cost seconds on a whole volume.
    """

    def __init__(
        self,
        volumes: Sequence[VolumeArrays],
        patch_size: Sequence[int],
        length: int,
        foreground_probability: float = 0.33,
        transform: tio.Transform | None = None,
        margin: int = 8,
    ):
        if not volumes:
            raise ValueError("no training volumes")
        self.volumes = list(volumes)
        self.patch_size = tuple(int(p) for p in patch_size)
        self.length = int(length)
        self.foreground_probability = float(foreground_probability)
        self.transform = transform
        self.margin = int(margin) if transform is not None else 0

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,)).item()))
        volume = self.volumes[rng.integers(len(self.volumes))]
        center = sample_center(volume, rng, self.foreground_probability)
        size = [p + 2 * self.margin for p in self.patch_size]
        start = [int(c) - s // 2 for c, s in zip(center, size, strict=True)]
        image = torch.from_numpy(crop_padded(volume.image, start, size))
        label = torch.from_numpy(crop_padded(volume.label[None], start, size).astype(np.int64))
        if self.transform is not None:
            subject = tio.Subject(image=tio.ScalarImage(tensor=image), label=tio.LabelMap(tensor=label))
            subject = self.transform(subject)
            m = self.margin
            crop = (slice(None), *(slice(m, m + p) for p in self.patch_size))
            image, label = subject["image"].data[crop], subject["label"].data[crop]
        return {"image": image.float().contiguous(), "label": label.long().contiguous()}


class VolumeDataset(Dataset):
    """Whole preprocessed volumes, one per item, for sliding-window validation."""

    def __init__(self, volumes: Sequence[VolumeArrays]):
        self.volumes = list(volumes)

    def __len__(self) -> int:
        return len(self.volumes)

    def __getitem__(self, index: int) -> dict[str, object]:
        volume = self.volumes[index]
        return {
            "image": torch.from_numpy(volume.image),
            "label": torch.from_numpy(volume.label[None].astype(np.int64)),
            "subject_id": volume.subject_id,
            "session": volume.session,
        }
