"""Load one subject-visit's images from a manifest row, checked to share one grid."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import nibabel as nib
import numpy as np
import pandas as pd
from nibabel.processing import resample_from_to

from wmhmap.data.nifti import grid_difference, load_labels, load_mask, load_volume
from wmhmap.errors import GeometryError

__all__ = ["SubjectImages", "load_subject"]

OnMismatch = Literal["error", "resample"]


@dataclass
class SubjectImages:
    """The images of one subject-visit on the FLAIR grid; absent modalities are None."""

    subject_id: str
    session: str
    flair: nib.Nifti1Image
    t1: nib.Nifti1Image | None = None
    wmh: nib.Nifti1Image | None = None
    brain_mask: nib.Nifti1Image | None = None
    paths: dict[str, Path] = field(default_factory=dict)

    def modality(self, name: str) -> nib.Nifti1Image:
        """Return an intensity image by name ('flair' or 't1'), with an error naming what is missing."""
        image = getattr(self, name.lower(), None)
        if image is None:
            raise ValueError(f"subject {self.subject_id}/{self.session} has no {name} image")
        return image


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and pd.isna(value)) and value is not pd.NA


def load_subject(
    row: Mapping[str, object],
    on_mismatch: OnMismatch = "error",
    atol: float = 1e-3,
    allow_empty_mask: bool = False,
) -> SubjectImages:
    """Load FLAIR (+ T1, WMH labels, brain mask) of a manifest row and put them on the FLAIR grid.

    Images off the FLAIR grid raise :class:`GeometryError` naming both files, or are resampled
    (linear for intensities, nearest for labels and masks) when ``on_mismatch="resample"``.
    """
    flair_path = Path(str(row["flair"]))
    flair = load_volume(flair_path)
    out = SubjectImages(str(row["subject_id"]), str(row["session"]), flair, paths={"flair": flair_path})
    loaders = {
        "t1": (load_volume, 1),
        "wmh": (load_labels, 0),
        "brain_mask": (lambda p: load_mask(p, allow_empty=allow_empty_mask), 0),
    }
    for name, (loader, order) in loaders.items():
        value = row.get(name)
        if not _present(value):
            continue
        path = Path(str(value))
        image = loader(path)
        problem = grid_difference(flair, image, atol)
        if problem is not None:
            if on_mismatch != "resample":
                raise GeometryError(flair_path, path, problem)
            resampled = resample_from_to(image, flair, order=order)
            data = np.asarray(resampled.dataobj)
            image = nib.Nifti1Image(data.astype(image.get_data_dtype()), flair.affine, image.header)
        setattr(out, name, image)
        out.paths[name] = path
    return out
