"""Score one prediction against one reference (NIfTI files or nibabel images) with the challenge metrics."""

from __future__ import annotations

import warnings
from pathlib import Path

import nibabel as nib
import numpy as np

from wmhmap.data.nifti import grid_difference, load_image, voxel_volume_ml
from wmhmap.errors import GeometryError, InputError
from wmhmap.evaluation.metrics import binarize_prediction, challenge_scores, split_reference

__all__ = ["EmptyMaskWarning", "METRICS", "evaluate_pair"]

METRICS: tuple[str, ...] = ("dice", "hd95", "avd", "recall", "f1")
"""The five challenge metrics, in the challenge's order."""


class EmptyMaskWarning(UserWarning):
    """A reference or prediction holds no lesion voxels, so some metrics are undefined (NaN)."""


def _open(image: str | Path | nib.Nifti1Image, role: str) -> tuple[np.ndarray, nib.spatialimages.SpatialImage, str]:
    """(3D voxel array, image, name for messages) of a NIfTI path or an in-memory image."""
    if isinstance(image, (str, Path)):
        loaded = load_image(image)
        return np.asarray(loaded.dataobj), loaded, str(image)
    if not isinstance(image, nib.spatialimages.SpatialImage):
        raise TypeError(f"{role} must be a NIfTI path or a nibabel image, got {type(image).__name__}")
    name = image.get_filename() or f"<{role} image>"
    data = np.asarray(image.dataobj)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise InputError(name, f"expected a 3D image, got shape {tuple(data.shape)}")
    return data, image, name


def evaluate_pair(
    reference: str | Path | nib.Nifti1Image,
    prediction: str | Path | nib.Nifti1Image,
    affine_atol: float = 1e-3,
    crop: bool = True,
) -> dict[str, float | int]:
    """Challenge metrics of ``prediction`` against ``reference`` (labels 0/1/2, any number type).

    Returns ``dice``, ``hd95`` (mm), ``avd`` (%), ``recall``, ``precision``, ``f1``, volumes
    ``reference_ml`` / ``prediction_ml`` and lesion counts ``reference_lesions`` /
    ``prediction_lesions``, all measured on the masks as scored (label-2 voxels removed from the
    prediction; volumes from the reference's voxel size). The grids must match (affines within
    ``affine_atol``), else :class:`GeometryError` naming both files. An empty reference or prediction
    gives NaN where a metric is undefined, with an :class:`EmptyMaskWarning` naming the file.
    """
    ref_data, ref_image, ref_name = _open(reference, "reference")
    pred_data, pred_image, pred_name = _open(prediction, "prediction")
    problem = grid_difference(ref_image, pred_image, atol=affine_atol)
    if problem is not None:
        raise GeometryError(ref_name, pred_name, problem)
    try:
        ref_mask, ignore = split_reference(ref_data)
    except ValueError as err:
        raise InputError(ref_name, str(err)) from None
    try:
        pred_mask = binarize_prediction(pred_data)
    except ValueError as err:
        raise InputError(pred_name, str(err)) from None
    if ignore.any():
        pred_mask = pred_mask & ~ignore
    scores = challenge_scores(ref_mask, pred_mask, ref_image.affine, crop=crop)
    if scores.reference_voxels == 0:
        warnings.warn(f"{ref_name}: reference has no WMH (label 1) voxels; HD95 and AVD are undefined (NaN)"
                      + ("" if scores.prediction_voxels else " and so is Dice"), EmptyMaskWarning, stacklevel=2)
    if scores.prediction_voxels == 0:
        warnings.warn(f"{pred_name}: prediction is empty (after removing reference label 2); HD95 is undefined (NaN)",
                      EmptyMaskWarning, stacklevel=2)
    voxel_ml = voxel_volume_ml(ref_image)
    result: dict[str, float | int] = {name: getattr(scores, name) for name in (*METRICS[:4], "precision", "f1")}
    result.update(
        reference_ml=scores.reference_voxels * voxel_ml,
        prediction_ml=scores.prediction_voxels * voxel_ml,
        reference_lesions=scores.reference_lesions,
        prediction_lesions=scores.prediction_lesions,
    )
    return result
