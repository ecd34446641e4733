"""One subject from manifest row to network input, and network output back to the input's own grid.

Steps: load (on the FLAIR grid) -> canonical orientation (exact) -> brain mask (given, or computed on
the native grid) -> crop to the brain plus a margin -> resample to the target spacing (skipped per
axis when already there; only the cropped region, then cropped again) -> z-score within the brain.
Every step is recorded by an affine, so :func:`to_native` inverts them all: exactly (voxel copies)
when no resampling happened, by interpolation in world coordinates otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import nibabel as nib
import numpy as np
import pandas as pd

from wmhmap.data.subject import load_subject
from wmhmap.errors import InputError, WmhmapError
from wmhmap.preprocessing.brain_mask import compute_brain_mask
from wmhmap.preprocessing.config import PreprocessConfig, parse_spacing
from wmhmap.preprocessing.crop import bounding_box, crop_affine, margin_voxels
from wmhmap.preprocessing.normalise import zscore_within_mask
from wmhmap.preprocessing.orientation import orientation_transform, reorient, voxel_spacing
from wmhmap.preprocessing.resample import resample_onto, resample_to_spacing

__all__ = [
    "FILE_COLUMNS",
    "NativeGrid",
    "Preprocessed",
    "subject_inputs",
    "preprocess_subject",
    "to_native_array",
    "to_native",
]


@dataclass(frozen=True, eq=False)
class NativeGrid:
    """The input's own voxel grid (the FLAIR's): shape, affine and NIfTI xform codes, to write outputs on."""

    shape: tuple[int, int, int]
    affine: np.ndarray
    qform_code: int = 1
    sform_code: int = 1

    @classmethod
    def from_image(cls, image: nib.Nifti1Image) -> NativeGrid:
        header = image.header
        return cls(
            tuple(int(n) for n in image.shape[:3]),  # type: ignore[arg-type]
            np.asarray(image.affine, dtype=np.float64),
            int(header["qform_code"]),
            int(header["sform_code"]),
        )

    def image(self, data: np.ndarray) -> nib.Nifti1Image:
        """``data`` (X, Y, Z[, C]) on this grid as a NIfTI image with the input's affine and xform codes."""
        image = nib.Nifti1Image(data, self.affine)
        image.set_qform(self.affine, code=self.qform_code)
        image.set_sform(self.affine, code=self.sform_code)
        image.set_data_dtype(data.dtype)
        return image


@dataclass(eq=False)
class Preprocessed:
    """Network-ready arrays of one subject on the preprocessed grid, plus what is needed to go back.

    ``image`` (C, X, Y, Z) float32 in ``config.modalities`` order; ``label`` (X, Y, Z) uint8 0/1/2 or None
    when the row has no WMH reference; ``brain_mask`` (X, Y, Z) uint8; ``affine`` the preprocessed grid's
    voxel -> world (mm) map; ``native`` the input grid.
    """

    image: np.ndarray
    label: np.ndarray | None
    brain_mask: np.ndarray
    affine: np.ndarray
    native: NativeGrid

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size (mm) of the preprocessed grid."""
        return tuple(float(s) for s in voxel_spacing(self.affine))  # type: ignore[return-value]

    @property
    def voxel_ml(self) -> float:
        """Volume of one preprocessed voxel in mL."""
        return abs(float(np.linalg.det(self.affine[:3, :3]))) / 1000.0


def _present(value: object) -> bool:
    """A manifest cell holds a value (not None, NaN, NA or blank)."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return False
    return bool(str(value).strip())


FILE_COLUMNS: tuple[str, ...] = ("flair", "t1", "wmh", "brain_mask")
"""Manifest columns holding the files preprocessing may read."""


def subject_inputs(row: Mapping[str, object], config: PreprocessConfig) -> dict[str, str]:
    """The files ``config`` reads for ``row`` (column -> path), after checking the requested ones are there.

    Unrequested modalities, and the brain mask when it is computed, are neither read nor keyed on.
    """
    who = f"subject {row.get('subject_id')}/{row.get('session')}"
    missing = [m for m in dict.fromkeys(("flair", *config.modalities)) if not _present(row.get(m))]
    if missing:
        raise WmhmapError(
            f"{who}: no {' or '.join(missing)} image in the manifest row, "
            f"but preprocessing needs it (modalities={list(config.modalities)}; FLAIR defines the grid)"
        )
    if config.brain_mask == "given" and not _present(row.get("brain_mask")):
        raise WmhmapError(f"{who}: preprocessing.brain_mask='given' but the manifest row has no brain_mask")
    wanted = {"flair", "wmh", *config.modalities} | ({"brain_mask"} if config.brain_mask != "compute" else set())
    return {c: str(row[c]) for c in FILE_COLUMNS if c in wanted and _present(row.get(c))}


def _target_spacing(config: PreprocessConfig, override: object) -> tuple[float, float, float] | None:
    spacing = config.target_spacing if override is None else parse_spacing(override)
    if spacing == "median":
        raise ValueError(
            "target_spacing='median' is a cohort statistic: resolve it with preprocess_config(settings, manifest) "
            "or pass target_spacing"
        )
    return spacing  # type: ignore[return-value]


def preprocess_subject(
    row: Mapping[str, object],
    config: PreprocessConfig,
    target_spacing: tuple[float, float, float] | float | None = None,
) -> Preprocessed:
    """Preprocess one manifest row (see the module docstring for the steps).

    ``target_spacing`` overrides ``config.target_spacing`` (needed when that is an unresolved "median").
    Raises :class:`WmhmapError` when a requested modality or a required brain mask is missing,
    :class:`GeometryError` when images are off the FLAIR grid and ``config.on_mismatch="error"``, and
    :class:`InputError` naming the file when a brain mask is empty or an image is constant in the brain.
    """
    spacing = _target_spacing(config, target_spacing)
    files = subject_inputs(row, config)
    ids = {"subject_id": row.get("subject_id"), "session": row.get("session")}
    subject = load_subject({**ids, **files}, on_mismatch=config.on_mismatch)  # type: ignore[arg-type]
    native = NativeGrid.from_image(subject.flair)
    transform = orientation_transform(native.affine, config.orientation)
    image = np.stack([np.asarray(subject.modality(m).dataobj, dtype=np.float32) for m in config.modalities])
    image, affine = reorient(image, native.affine, transform)
    label = mask = None
    if subject.wmh is not None:
        label = reorient(np.asarray(subject.wmh.dataobj, dtype=np.uint8), native.affine, transform)[0]
    if subject.brain_mask is not None:
        mask = reorient(np.asarray(subject.brain_mask.dataobj, dtype=np.uint8), native.affine, transform)[0]

    mask_source = subject.paths.get("brain_mask", subject.paths["flair"])
    if mask is None:
        mask = compute_brain_mask(image)

    def check(mask: np.ndarray) -> None:
        if not mask.any():
            what = "brain mask" if "brain_mask" in subject.paths else "brain mask computed from this image"
            raise InputError(mask_source, f"{what} is empty on the preprocessed grid")

    check(mask)
    crop = config.crop_margin_mm is not None
    if spacing is not None:
        if crop:  # resample only the brain's region, with one target voxel more for interpolation support
            image, label, mask, affine = _crop(image, label, mask, affine, config.crop_margin_mm + max(spacing))
        image, new_affine = resample_to_spacing(image, affine, spacing, order=1)
        if label is not None:
            label = resample_to_spacing(label, affine, spacing, order=0)[0]
        mask, affine = resample_to_spacing(mask, affine, spacing, order=0)[0], new_affine
        check(mask)
    if crop:
        image, label, mask, affine = _crop(image, label, mask, affine, config.crop_margin_mm)

    if config.normalise == "zscore":
        channels = []
        for c, modality in enumerate(config.modalities):
            try:
                channels.append(zscore_within_mask(image[c], mask))
            except ValueError as err:
                raise InputError(subject.paths[modality], f"cannot z-score: {err}") from None
        image = np.stack(channels)
    return Preprocessed(
        np.ascontiguousarray(image, dtype=np.float32),
        None if label is None else np.ascontiguousarray(label, dtype=np.uint8),
        np.ascontiguousarray(mask, dtype=np.uint8),
        affine,
        native,
    )


def _crop(
    image: np.ndarray, label: np.ndarray | None, mask: np.ndarray, affine: np.ndarray, margin_mm: float
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    """Views of the arrays cropped to the bounding box of the brain (and of any labelled voxel, so no label
    is lost) plus ``margin_mm``, and the crop's affine."""
    region = mask if label is None else (mask > 0) | (label > 0)
    box = bounding_box(region, margin_voxels(margin_mm, voxel_spacing(affine)))
    cropped_label = None if label is None else label[box]
    return image[(slice(None), *box)], cropped_label, mask[box], crop_affine(affine, [s.start for s in box])


def to_native_array(volume: np.ndarray, affine: np.ndarray, native: NativeGrid, order: int) -> np.ndarray:
    """(X, Y, Z) or (C, X, Y, Z) array on the grid ``affine`` -> same on the native grid; outside = 0.

    Exact voxel copies when the grids differ by axis swaps, flips and shifts only (no resampling happened).
    """
    volume = np.asarray(volume)
    if volume.ndim not in (3, 4):
        raise ValueError(f"expected an (X, Y, Z) or (C, X, Y, Z) array, got shape {volume.shape}")
    if volume.dtype == bool:
        volume = volume.astype(np.uint8)
    return resample_onto(volume, affine, native.shape, native.affine, order)


def to_native(volume: np.ndarray, pre: Preprocessed, order: int = 0) -> nib.Nifti1Image:
    """A preprocessed-grid array as an image on the input's own grid, affine and orientation.

    ``order`` 0 (nearest) for labels and masks, 1 (linear) for probabilities; voxels outside the crop are 0.
    A (C, X, Y, Z) array becomes a 4D image with channels last, as NIfTI expects.
    """
    data = to_native_array(volume, pre.affine, pre.native, order)
    if data.ndim == 4:
        data = np.ascontiguousarray(np.moveaxis(data, 0, -1))
    return pre.native.image(data)
