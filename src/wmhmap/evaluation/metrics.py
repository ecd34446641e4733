"""The five WMH Segmentation Challenge 2017 metrics (Kuijf et al., IEEE TMI 2019) on voxel arrays.

Pure functions of boolean masks plus the reference's affine; semantics follow the challenge's
official ``evaluation.py`` (github.com/hjkuijf/wmhchallenge) as written out in ``docs/design.md``:

- reference = label 1; prediction voxels where the reference is 2 are removed before scoring;
- Dice = 2|A∩B| / (|A|+|B|);
- HD95 = max of the two 95th percentiles of boundary-to-boundary distances in world mm, where a
  mask's boundary is the mask minus its erosion by a 3x3x1 in-plane kernel, voxels outside the image
  counting as foreground;
- AVD = |V_ref - V_pred| / V_ref x 100 (voxel counts);
- lesion recall / precision / F1 on 26-connected components.

The heavy steps (erosion, distance search, labelling) run on the bounding box of both masks only,
and boundary distances are found by neighbourhood lookups before any k-d tree search; the results
are identical to the plain algorithm (tests compare the two).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

__all__ = [
    "EROSION_KERNEL",
    "LESION_STRUCTURE",
    "ChallengeScores",
    "LesionDetection",
    "split_reference",
    "binarize_prediction",
    "score_masks",
    "bounding_box",
    "boundary",
    "dice",
    "absolute_volume_difference",
    "hausdorff95",
    "lesion_detection",
    "challenge_scores",
]

EROSION_KERNEL = np.ones((3, 3, 1), dtype=bool)
"""In-plane 3x3 erosion kernel (all eight in-plane neighbours, nothing across slices).

The official script erodes with ``sitk.BinaryErode(image, (1, 1, 0))``: a radius given in SimpleITK's
(x, y, z) index order, which is nibabel's voxel-axis order (i, j, k). So "in-plane" means the first
two voxel axes of the array as stored, the acquisition plane of the challenge's axial FLAIR; images
stored with another slice axis are eroded in their stored (i, j) plane, exactly as the challenge does.
"""

LESION_STRUCTURE = np.ones((3, 3, 3), dtype=bool)
"""26-connectivity: the official script's ``ConnectedComponentImageFilter`` with ``FullyConnected``."""


@dataclass(frozen=True)
class LesionDetection:
    """Lesion-wise detection: recall, precision and F1 over 26-connected components, and the counts."""

    recall: float
    precision: float
    f1: float
    reference_lesions: int
    prediction_lesions: int


@dataclass(frozen=True)
class ChallengeScores:
    """Everything :func:`challenge_scores` measures on one reference/prediction pair (voxel counts)."""

    dice: float
    hd95: float
    avd: float
    recall: float
    precision: float
    f1: float
    reference_voxels: int
    prediction_voxels: int
    reference_lesions: int
    prediction_lesions: int

    def as_dict(self) -> dict[str, float | int]:
        """The scores as a plain dict (field name -> value)."""
        return asdict(self)


def split_reference(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(WMH, ignore) masks of a reference label image: label 1 and label 2.

    Integer or float storage is accepted; float values must be whole numbers (within 1e-3). Raises
    ``ValueError`` describing the problem for NaN/Inf, non-integer values or labels other than 0, 1, 2.
    """
    labels = np.asarray(labels)
    if labels.dtype == bool:
        return labels, np.zeros_like(labels)
    if np.issubdtype(labels.dtype, np.floating):
        if not np.all(np.isfinite(labels)):
            raise ValueError("reference label image contains NaN or Inf")
        rounded = np.rint(labels)
        if not np.allclose(labels, rounded, atol=1e-3):
            raise ValueError("reference label image holds non-integer values (is it a probability map?)")
        labels = rounded
    elif not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"reference label image has unsupported data type {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() > 2):
        unexpected = sorted(set(np.unique(labels).tolist()) - {0, 1, 2})
        raise ValueError(f"reference has label values {unexpected} outside 0 (background), 1 (WMH), 2 (other)")
    wmh, ignore = labels == 1, labels == 2
    return wmh, ignore


def binarize_prediction(prediction: np.ndarray) -> np.ndarray:
    """Binarise a prediction as the challenge does: float at >= 0.5, integer (or bool) at >= 1.

    Raises ``ValueError`` for NaN/Inf values or a non-numeric data type.
    """
    prediction = np.asarray(prediction)
    if prediction.dtype == bool:
        return prediction
    if np.issubdtype(prediction.dtype, np.floating):
        if not np.all(np.isfinite(prediction)):
            raise ValueError("prediction contains NaN or Inf")
        return prediction >= 0.5
    if np.issubdtype(prediction.dtype, np.integer):
        return prediction >= 1
    raise ValueError(f"prediction has unsupported data type {prediction.dtype}")


def score_masks(reference_labels: np.ndarray, prediction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(reference, prediction) boolean masks as scored: label 1, and the binarised prediction outside label 2."""
    reference, ignore = split_reference(reference_labels)
    predicted = binarize_prediction(prediction)
    if ignore.any():
        predicted = predicted & ~ignore
    return reference, predicted


def bounding_box(mask: np.ndarray, margin: int = 1) -> tuple[slice, ...] | None:
    """Slices of the smallest box holding ``mask``'s foreground, grown by ``margin`` and clipped to the image.

    None for an empty mask. Growing by one voxel keeps erosion exact on the crop: where the crop edge
    lies inside the image, the margin holds real background voxels; where it meets the image edge,
    the crop edge *is* the image edge, so ``border_value=1`` still means "outside the image".
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return None
    box = []
    plane = mask.any(axis=2)
    profiles = (plane.any(axis=1), plane.any(axis=0), mask.any(axis=(0, 1)))
    for profile, size in zip(profiles, mask.shape, strict=True):
        hits = np.flatnonzero(profile)
        box.append(slice(max(int(hits[0]) - margin, 0), min(int(hits[-1]) + 1 + margin, size)))
    return tuple(box)


def boundary(mask: np.ndarray) -> np.ndarray:
    """Mask minus its in-plane erosion by :data:`EROSION_KERNEL`, voxels outside the array counting as foreground.

    So a lesion cut by the array edge has no boundary along that edge, as in the official script.
    Equal to ``mask & ~scipy.ndimage.binary_erosion(mask, EROSION_KERNEL, border_value=1)``, computed
    as two separable 1D erosions (axis 0, then axis 1), which is several times faster. Apply it to a
    whole image or to a crop from :func:`bounding_box` (whose margin keeps it exact).
    """
    mask = np.ascontiguousarray(mask, dtype=bool)
    rows = mask.copy()
    rows[1:] &= mask[:-1]
    rows[:-1] &= mask[1:]
    eroded = rows.copy()
    eroded[:, 1:] &= rows[:, :-1]
    eroded[:, :-1] &= rows[:, 1:]
    return mask & ~eroded


def _dice(n_ref: int, n_pred: int, n_both: int) -> float:
    return 2.0 * n_both / (n_ref + n_pred) if n_ref + n_pred else float("nan")


def _avd(n_ref: int, n_pred: int) -> float:
    return abs(n_ref - n_pred) / n_ref * 100.0 if n_ref else float("nan")


def dice(reference: np.ndarray, prediction: np.ndarray) -> float:
    """Dice similarity coefficient 2|A∩B| / (|A|+|B|); NaN when both masks are empty (0/0)."""
    reference, prediction = np.asarray(reference, dtype=bool), np.asarray(prediction, dtype=bool)
    return _dice(int(np.count_nonzero(reference)), int(np.count_nonzero(prediction)),
                 int(np.count_nonzero(reference & prediction)))


def absolute_volume_difference(reference: np.ndarray, prediction: np.ndarray) -> float:
    """AVD in percent, |V_ref - V_pred| / V_ref x 100 on voxel counts; NaN when the reference is empty."""
    return _avd(int(np.count_nonzero(reference)), int(np.count_nonzero(prediction)))


_SEARCH_RADIUS = 3
"""Half-width (voxels) of the neighbourhood searched by lookups before falling back to a k-d tree."""


def _voxel_index(mask: np.ndarray) -> np.ndarray:
    """(N, 3) indices of a mask's foreground, in C order (several times faster than ``np.argwhere``)."""
    return np.column_stack(np.unravel_index(np.flatnonzero(mask), mask.shape))


def _world_points(index: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """World coordinates (mm) of voxel indices (N x 3) under ``affine``."""
    return index @ affine[:3, :3].T + affine[:3, 3]


def _neighbour_offsets(affine: np.ndarray, radius: int = _SEARCH_RADIUS) -> tuple[np.ndarray, np.ndarray]:
    """Voxel offsets within ``radius`` (a cube) that can be trusted as nearest, sorted by world length.

    Any voxel outside the cube is at least ``(radius + 1) * sigma_min`` mm away (sigma_min: the
    smallest singular value of the affine's 3x3 part), so a neighbour found in the cube no farther
    than that is the exact nearest one, on any oblique or anisotropic grid.
    """
    linear = affine[:3, :3]
    steps = np.arange(-radius, radius + 1)
    offsets = np.array(np.meshgrid(steps, steps, steps, indexing="ij")).reshape(3, -1).T
    lengths = np.linalg.norm(offsets @ linear.T, axis=1)
    bound = (radius + 1) * np.linalg.svd(linear, compute_uv=False).min() * (1.0 - 1e-9)
    trusted = lengths <= bound
    order = np.argsort(lengths[trusted], kind="stable")
    return offsets[trusted][order], lengths[trusted][order]


def _directed_distances(source: np.ndarray, target_mask: np.ndarray, target: np.ndarray, affine: np.ndarray,
                        start: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """World distance from each voxel index in ``source`` to the nearest voxel of ``target`` (indices; also
    given as the crop-shaped ``target_mask``).

    Voxels with a target voxel close by (nearly all of them) are resolved by lookups in order of
    distance; only the rest are searched in a k-d tree of the target's world coordinates.
    """
    radius = int(np.abs(offsets).max(initial=0))
    padded = np.pad(target_mask, radius)  # out-of-crop neighbours read as "no target voxel", never wrap
    flat = np.ravel_multi_index((source + radius).T, padded.shape)
    strides = np.array([padded.shape[1] * padded.shape[2], padded.shape[2], 1])
    lookup = padded.ravel()
    distances = np.empty(len(source))
    todo = np.arange(len(source))
    for offset, length in zip(offsets @ strides, lengths, strict=True):
        hit = lookup[flat[todo] + offset]
        distances[todo[hit]] = length
        todo = todo[~hit]
        if todo.size == 0:
            return distances
    tree = cKDTree(_world_points(target + start, affine), leafsize=32, balanced_tree=False, compact_nodes=False)
    distances[todo] = tree.query(_world_points(source[todo] + start, affine), k=1)[0]
    return distances


def _hausdorff95_cropped(reference: np.ndarray, prediction: np.ndarray, affine: np.ndarray,
                         start: np.ndarray) -> float:
    ref_boundary, pred_boundary = boundary(reference), boundary(prediction)
    ref_index, pred_index = _voxel_index(ref_boundary), _voxel_index(pred_boundary)
    if len(ref_index) == 0 or len(pred_index) == 0:
        return float("nan")
    offsets, lengths = _neighbour_offsets(affine)
    ref_to_pred = _directed_distances(ref_index, pred_boundary, pred_index, affine, start, offsets, lengths)
    pred_to_ref = _directed_distances(pred_index, ref_boundary, ref_index, affine, start, offsets, lengths)
    return float(max(np.percentile(ref_to_pred, 95), np.percentile(pred_to_ref, 95)))


def hausdorff95(reference: np.ndarray, prediction: np.ndarray, affine: np.ndarray, crop: bool = True) -> float:
    """95th-percentile Hausdorff distance in mm between the masks' boundaries (see :func:`boundary`).

    Boundary voxels go to world coordinates with ``affine`` (the reference's), so oblique and
    anisotropic grids are measured in mm; the result is the larger of the two directed 95th
    percentiles (numpy's linear percentile). NaN when either mask (or its boundary) is empty.
    """
    reference, prediction = np.asarray(reference, dtype=bool), np.asarray(prediction, dtype=bool)
    if not reference.any() or not prediction.any():
        return float("nan")
    affine = np.asarray(affine, dtype=float)
    if not crop:
        return _hausdorff95_cropped(reference, prediction, affine, np.zeros(3, dtype=int))
    box = bounding_box(reference | prediction)
    start = np.array([s.start for s in box])
    return _hausdorff95_cropped(np.ascontiguousarray(reference[box]), np.ascontiguousarray(prediction[box]),
                                affine, start)


def lesion_detection(reference: np.ndarray, prediction: np.ndarray) -> LesionDetection:
    """Lesion-wise recall, precision and F1 over 26-connected components.

    Recall = reference lesions overlapping the prediction / reference lesions (1 if there are none);
    precision = predicted lesions overlapping the reference / predicted lesions (1 if there are none);
    F1 = 2PR / (P + R), 0 when P + R = 0.
    """
    reference, prediction = np.asarray(reference, dtype=bool), np.asarray(prediction, dtype=bool)
    ref_labels, n_ref = ndimage.label(reference, structure=LESION_STRUCTURE)
    pred_labels, n_pred = ndimage.label(prediction, structure=LESION_STRUCTURE)
    ref_hit = int(np.count_nonzero(np.bincount(ref_labels[prediction], minlength=n_ref + 1)[1:]))
    pred_hit = int(np.count_nonzero(np.bincount(pred_labels[reference], minlength=n_pred + 1)[1:]))
    recall = ref_hit / n_ref if n_ref else 1.0
    precision = pred_hit / n_pred if n_pred else 1.0
    f1 = 2.0 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return LesionDetection(recall, precision, f1, int(n_ref), int(n_pred))


def challenge_scores(reference: np.ndarray, prediction: np.ndarray, affine: np.ndarray,
                     crop: bool = True) -> ChallengeScores:
    """All challenge metrics of two boolean masks already prepared by :func:`score_masks`.

    ``affine`` is the reference image's voxel-to-mm matrix. With ``crop`` (the default) the heavy work
    runs on the bounding box of both masks; the result is identical to ``crop=False``.
    """
    reference, prediction = np.asarray(reference, dtype=bool), np.asarray(prediction, dtype=bool)
    if reference.shape != prediction.shape or reference.ndim != 3:
        raise ValueError(f"expected two 3D masks of one shape, got {reference.shape} and {prediction.shape}")
    affine = np.asarray(affine, dtype=float)
    n_ref, n_pred = int(np.count_nonzero(reference)), int(np.count_nonzero(prediction))
    box = bounding_box(reference | prediction) if crop else tuple(slice(0, n) for n in reference.shape)
    if n_ref + n_pred == 0:
        lesions, hd95, n_both = LesionDetection(1.0, 1.0, 1.0, 0, 0), float("nan"), 0
    else:
        # Contiguous copies: the erosion and labelling run several times faster than on strided views.
        ref_crop, pred_crop = np.ascontiguousarray(reference[box]), np.ascontiguousarray(prediction[box])
        n_both = int(np.count_nonzero(ref_crop & pred_crop))
        lesions = lesion_detection(ref_crop, pred_crop)
        start = np.array([s.start for s in box])
        hd95 = _hausdorff95_cropped(ref_crop, pred_crop, affine, start) if n_ref and n_pred else float("nan")
    return ChallengeScores(
        dice=_dice(n_ref, n_pred, n_both),
        hd95=hd95,
        avd=_avd(n_ref, n_pred),
        recall=lesions.recall,
        precision=lesions.precision,
        f1=lesions.f1,
        reference_voxels=n_ref,
        prediction_voxels=n_pred,
        reference_lesions=lesions.reference_lesions,
        prediction_lesions=lesions.prediction_lesions,
    )
