"""Challenge metrics on hand-computed cases, checked against the official script's definitions."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial import cKDTree

from wmhmap.errors import GeometryError, InputError
from wmhmap.evaluation import EmptyMaskWarning, challenge_scores, evaluate_pair
from wmhmap.evaluation.metrics import (
    EROSION_KERNEL,
    absolute_volume_difference,
    binarize_prediction,
    boundary,
    bounding_box,
    dice,
    hausdorff95,
    lesion_detection,
    score_masks,
    split_reference,
)

EYE = np.eye(4)


def _mask(shape: tuple[int, int, int], *voxels: tuple[int, int, int]) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    for voxel in voxels:
        mask[voxel] = True
    return mask


def _spacing(*mm: float) -> np.ndarray:
    return np.diag([*mm, 1.0])


def _rotation(degrees: float, axis: int) -> np.ndarray:
    """A 4x4 rotation about one world axis."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    i, j = [a for a in range(3) if a != axis]
    rot = np.eye(4)
    rot[i, i], rot[i, j], rot[j, i], rot[j, j] = c, -s, s, c
    return rot


def _blobs(seed: int, shape: tuple[int, int, int] = (26, 22, 10), level: float = 0.6) -> np.ndarray:
    """Random smooth blobs; some reach the image edge."""
    field = ndimage.gaussian_filter(np.random.default_rng(seed).normal(size=shape), sigma=2.0, mode="wrap")
    return field > level * field.std()


def _official_hd95(reference: np.ndarray, prediction: np.ndarray, affine: np.ndarray) -> float:
    """Straight transcription of the official getHausdorff: full-image erosion, k-d trees on all boundary voxels."""

    def edge(mask: np.ndarray) -> np.ndarray:
        return mask & ~ndimage.binary_erosion(mask, structure=EROSION_KERNEL, border_value=1)

    a, b = (np.argwhere(edge(m)) @ affine[:3, :3].T + affine[:3, 3] for m in (reference, prediction))
    return max(np.percentile(cKDTree(b).query(a)[0], 95), np.percentile(cKDTree(a).query(b)[0], 95))


def _save(tmp_path: Path, name: str, data: np.ndarray, affine: np.ndarray = EYE) -> Path:
    path = tmp_path / name
    nib.save(nib.Nifti1Image(data, affine), str(path))
    return path


# --- single voxels, Dice, AVD -------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("pred_voxels", "expected"),
    [
        # same voxel: perfect
        ([(5, 5, 5)], dict(dice=1.0, hd95=0.0, avd=0.0, recall=1.0, precision=1.0, f1=1.0)),
        # 3 voxels away along i: no overlap, boundaries 3 mm apart, equal volumes
        ([(8, 5, 5)], dict(dice=0.0, hd95=3.0, avd=0.0, recall=0.0, precision=0.0, f1=0.0)),
        # the hit plus a far false positive: Dice 2*1/(1+2), AVD 100 %, precision 1/2, F1 2*0.5*1/1.5;
        # distances pred->ref [0, 4] -> 95th percentile 0 + 0.95 * 4 = 3.8
        ([(5, 5, 5), (5, 9, 5)], dict(dice=2 / 3, hd95=3.8, avd=100.0, recall=1.0, precision=0.5, f1=2 / 3)),
    ],
)
def test_single_voxel_cases(pred_voxels: list[tuple[int, int, int]], expected: dict[str, float]) -> None:
    reference = _mask((12, 12, 10), (5, 5, 5))
    scores = challenge_scores(reference, _mask((12, 12, 10), *pred_voxels), EYE).as_dict()
    for key, value in expected.items():
        assert scores[key] == pytest.approx(value), key


def test_dice_and_avd_count_voxels() -> None:
    reference = np.zeros((8, 8, 4), dtype=bool)
    reference[2:4, 2:4, 1] = True  # 4 voxels
    prediction = np.zeros_like(reference)
    prediction[2:4, 2, 1] = True  # 2 of them
    scores = challenge_scores(reference, prediction, _spacing(0.5, 0.5, 3.0))
    assert scores.dice == pytest.approx(2 * 2 / 6)
    assert scores.avd == pytest.approx(50.0)  # |4 - 2| / 4, voxel counts whatever the spacing
    assert (scores.reference_voxels, scores.prediction_voxels) == (4, 2)
    assert dice(reference, prediction) == scores.dice
    assert absolute_volume_difference(reference, prediction) == scores.avd
    assert math.isnan(dice(np.zeros(3, bool), np.zeros(3, bool)))
    assert math.isnan(absolute_volume_difference(np.zeros(3, bool), prediction))


# --- lesions ------------------------------------------------------------------------------------------

def test_diagonally_touching_voxels_are_one_lesion() -> None:
    shape = (8, 8, 8)
    corner_touching = _mask(shape, (2, 2, 2), (3, 3, 3))  # share only a corner: 26- but not 6/18-connected
    apart = _mask(shape, (2, 2, 2), (4, 4, 4))
    assert lesion_detection(corner_touching, corner_touching).reference_lesions == 1
    assert lesion_detection(apart, apart).reference_lesions == 2
    # a prediction touching one voxel of the single lesion detects it entirely
    hit = lesion_detection(corner_touching, _mask(shape, (3, 3, 3)))
    assert (hit.recall, hit.precision, hit.f1) == (1.0, 1.0, 1.0)
    # with two lesions, finding one gives recall 1/2, precision 1, F1 = 2 * 0.5 / 1.5
    half = lesion_detection(apart, _mask(shape, (4, 4, 4)))
    assert (half.recall, half.precision) == (0.5, 1.0)
    assert half.f1 == pytest.approx(2 / 3)


def test_lesion_precision_counts_predicted_components() -> None:
    reference = _mask((10, 10, 4), (2, 2, 1))
    prediction = _mask((10, 10, 4), (2, 2, 1), (7, 7, 1), (7, 2, 1))  # one hit, two false positives
    result = lesion_detection(reference, prediction)
    assert (result.reference_lesions, result.prediction_lesions) == (1, 3)
    assert result.recall == 1.0
    assert result.precision == pytest.approx(1 / 3)
    assert result.f1 == pytest.approx(2 * (1 / 3) / (1 + 1 / 3))


# --- boundary and HD95 ----------------------------------------------------------------------------------

def test_boundary_has_no_edge_where_a_lesion_touches_the_image_edge() -> None:
    corner = np.zeros((6, 6, 3), dtype=bool)
    corner[0:3, 0:3, 1] = True
    expected = {(2, 0, 1), (2, 1, 1), (2, 2, 1), (0, 2, 1), (1, 2, 1)}  # only the sides facing the image
    assert set(map(tuple, np.argwhere(boundary(corner)))) == expected
    interior = np.roll(corner, (1, 1), axis=(0, 1))
    assert np.count_nonzero(boundary(interior)) == 8  # the full ring around the centre voxel


def test_boundary_is_in_plane_only() -> None:
    column = np.zeros((5, 5, 5), dtype=bool)
    column[1:4, 1:4, :] = True  # a 3x3 prism through every slice
    edge = boundary(column)
    assert np.array_equal(edge[2, 2, :], np.zeros(5, bool))  # the centre line is never boundary
    assert np.count_nonzero(edge) == 8 * 5


def test_boundary_matches_simpleitk_binary_erode_of_the_official_script() -> None:
    sitk = pytest.importorskip("SimpleITK")
    for seed in range(3):
        mask = _blobs(seed)
        # sitk arrays are (z, y, x) while its index (and radius) order is (x, y, z) = nibabel's (i, j, k)
        eroded = sitk.GetArrayFromImage(sitk.BinaryErode(sitk.GetImageFromArray(mask.T.astype(np.uint8)), (1, 1, 0))).T
        assert np.array_equal(boundary(mask), mask & ~eroded.astype(bool)), seed


def test_hd95_at_the_image_edge_hand_computed() -> None:
    reference = np.zeros((6, 6, 3), dtype=bool)
    reference[0:3, 0:3, 1] = True
    prediction = np.zeros_like(reference)
    prediction[0:2, 0:2, 1] = True
    # ref boundary {(2,0),(2,1),(2,2),(0,2),(1,2)} -> pred boundary {(1,0),(0,1),(1,1)}: [1, 1, 1, 1, sqrt 2],
    # 95th percentile = 1 + 0.8 (sqrt 2 - 1); pred -> ref: [1, 1, 1] -> 1
    expected = 1 + 0.8 * (math.sqrt(2) - 1)
    assert challenge_scores(reference, prediction, EYE).hd95 == pytest.approx(expected)
    assert hausdorff95(reference, prediction, EYE, crop=True) == pytest.approx(expected)
    assert hausdorff95(reference, prediction, EYE, crop=False) == pytest.approx(expected)


def test_hd95_anisotropic_1x1x3_hand_computed() -> None:
    affine = _spacing(1.0, 1.0, 3.0)
    reference = _mask((10, 10, 10), (5, 5, 5))
    # a second predicted lesion two slices up: pred -> ref distances [0, 6 mm] -> 0.95 * 6 = 5.7
    prediction = _mask((10, 10, 10), (5, 5, 5), (5, 5, 7))
    assert challenge_scores(reference, prediction, affine).hd95 == pytest.approx(5.7)
    # one slice apart is 3 mm, one column apart 1 mm
    assert hausdorff95(reference, _mask((10, 10, 10), (5, 5, 6)), affine) == pytest.approx(3.0)
    assert hausdorff95(reference, _mask((10, 10, 10), (5, 6, 5)), affine) == pytest.approx(1.0)
    # all three axes differ
    uneven = _spacing(0.5, 2.0, 3.0)
    assert hausdorff95(reference, _mask((10, 10, 10), (6, 6, 6)), uneven) == pytest.approx(math.sqrt(0.25 + 4 + 9))


def test_hd95_far_apart_uses_exact_distances() -> None:
    reference = _mask((30, 8, 8), (2, 2, 2))
    assert hausdorff95(reference, _mask((30, 8, 8), (27, 2, 2)), EYE) == pytest.approx(25.0)
    assert hausdorff95(reference, _mask((30, 8, 8), (2, 2, 6)), _spacing(1, 1, 3)) == pytest.approx(12.0)


def test_hd95_is_rotation_invariant_on_oblique_grids() -> None:
    reference = _mask((12, 12, 10), (5, 5, 5))
    prediction = _mask((12, 12, 10), (8, 5, 5))
    oblique = _rotation(30, axis=2) @ _rotation(-20, axis=0) @ _spacing(2.0, 2.0, 2.0)
    oblique[:3, 3] = [-90.0, 120.0, -60.0]
    assert hausdorff95(reference, prediction, oblique) == pytest.approx(6.0)  # 3 voxels of 2 mm
    for seed in range(3):
        a, b = _blobs(seed), _blobs(seed + 10)
        spacing = _spacing(0.9, 1.1, 3.0)
        turned = _rotation(25, axis=1) @ _rotation(40, axis=2) @ spacing
        assert hausdorff95(a, b, turned) == pytest.approx(hausdorff95(a, b, spacing), rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_hd95_matches_the_official_algorithm_on_random_blobs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference, prediction = _blobs(seed), _blobs(seed + 100, level=0.8)
    affine = _rotation(rng.uniform(0, 90), axis=2) @ _rotation(rng.uniform(0, 90), axis=0) @ _spacing(
        *rng.uniform(0.5, 3.0, size=3))
    affine[:3, 3] = rng.normal(scale=50, size=3)
    assert hausdorff95(reference, prediction, affine) == pytest.approx(
        _official_hd95(reference, prediction, affine), rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_cropping_gives_the_same_scores_as_the_whole_image(seed: int) -> None:
    reference, prediction = _blobs(seed, level=1.0), _blobs(seed + 50, level=1.1)
    assert reference.any() and prediction.any()
    for affine in (EYE, _spacing(1, 1, 3) @ _rotation(15, axis=2)):
        cropped = challenge_scores(reference, prediction, affine, crop=True).as_dict()
        whole = challenge_scores(reference, prediction, affine, crop=False).as_dict()
        assert cropped == pytest.approx(whole, rel=1e-12), seed


def test_crop_keeps_a_margin_inside_the_image_and_stops_at_its_edge() -> None:
    mask = _mask((10, 10, 10), (0, 4, 9), (3, 6, 7))
    assert bounding_box(mask) == (slice(0, 5), slice(3, 8), slice(6, 10))
    assert bounding_box(np.zeros((3, 3, 3), bool)) is None


# --- labels, thresholds ---------------------------------------------------------------------------------

def test_prediction_thresholds_float_half_and_integer_one() -> None:
    floats = np.array([0.0, 0.49, 0.5, 0.9, 1.7], dtype=np.float32)
    assert binarize_prediction(floats).tolist() == [False, False, True, True, True]
    assert binarize_prediction(np.array([0, 1, 2, 255], dtype=np.uint8)).tolist() == [False, True, True, True]
    assert binarize_prediction(np.array([-1, 0, 1], dtype=np.int16)).tolist() == [False, False, True]
    with pytest.raises(ValueError, match="NaN"):
        binarize_prediction(np.array([np.nan, 1.0]))


def test_reference_in_any_number_type() -> None:
    for dtype in (np.uint8, np.int16, np.int32, np.float32, np.float64):
        wmh, ignore = split_reference(np.array([0, 1, 2, 1], dtype=dtype))
        assert wmh.tolist() == [False, True, False, True] and ignore.tolist() == [False, False, True, False]
    with pytest.raises(ValueError, match="non-integer"):
        split_reference(np.array([0.0, 0.4, 1.0]))
    with pytest.raises(ValueError, match=r"\[3\]"):
        split_reference(np.array([0, 1, 3], dtype=np.uint8))


def test_label_two_is_removed_from_the_prediction_before_scoring() -> None:
    labels = np.zeros((10, 10, 4), dtype=np.uint8)
    labels[1:3, 1:3, 1] = 1
    labels[6:8, 6:8, 1] = 2
    prediction = ((labels == 1) | (labels == 2)).astype(np.float32) * 0.8  # predicts both
    reference, predicted = score_masks(labels, prediction)
    assert not predicted[labels == 2].any()
    scores = challenge_scores(reference, predicted, EYE)
    assert (scores.dice, scores.hd95, scores.precision, scores.prediction_lesions) == (1.0, 0.0, 1.0, 1)
    result = evaluate_pair(nib.Nifti1Image(labels, EYE), nib.Nifti1Image(prediction, EYE))
    assert result["dice"] == 1.0 and result["prediction_ml"] == pytest.approx(0.004)


def test_evaluate_pair_on_files_float_reference_integer_and_float_predictions(tmp_path: Path) -> None:
    affine = _spacing(1.0, 1.0, 3.0)
    labels = np.zeros((10, 10, 6), dtype=np.float32)
    labels[2:5, 2:5, 2] = 1.0  # 9 voxels of 3 mm^3
    reference = _save(tmp_path, "wmh.nii.gz", labels, affine)
    probability = labels * 0.6
    probability[2, 2, 2] = 0.3  # below 0.5: not predicted
    soft = evaluate_pair(reference, _save(tmp_path, "prob.nii.gz", probability, affine))
    hard = evaluate_pair(str(reference), _save(tmp_path, "mask.nii.gz", (labels > 0).astype(np.int16), affine))
    assert soft["dice"] == pytest.approx(2 * 8 / 17)
    assert soft["avd"] == pytest.approx(100 / 9)
    assert hard["dice"] == 1.0 and hard["hd95"] == 0.0
    assert hard["reference_ml"] == pytest.approx(9 * 3 / 1000)
    assert soft["prediction_ml"] == pytest.approx(8 * 3 / 1000)
    assert (hard["reference_lesions"], hard["prediction_lesions"]) == (1, 1)
    assert set(hard) == {"dice", "hd95", "avd", "recall", "precision", "f1", "reference_ml", "prediction_ml",
                         "reference_lesions", "prediction_lesions"}


# --- empty masks ------------------------------------------------------------------------------------------

def _lesion(shape: tuple[int, int, int] = (8, 8, 4)) -> np.ndarray:
    data = np.zeros(shape, dtype=np.uint8)
    data[3:5, 3:5, 2] = 1
    return data


def test_empty_reference_gives_nan_and_a_warning_naming_the_file(tmp_path: Path) -> None:
    reference = _save(tmp_path, "empty_wmh.nii.gz", np.zeros((8, 8, 4), np.uint8))
    prediction = _save(tmp_path, "pred.nii.gz", _lesion())
    with pytest.warns(EmptyMaskWarning, match="empty_wmh.nii.gz"):
        result = evaluate_pair(reference, prediction)
    assert result["dice"] == 0.0
    assert math.isnan(result["hd95"]) and math.isnan(result["avd"])
    assert (result["recall"], result["precision"], result["f1"]) == (1.0, 0.0, 0.0)
    assert result["reference_ml"] == 0.0 and result["reference_lesions"] == 0


def test_empty_prediction_gives_nan_hd95_and_a_warning_naming_the_file(tmp_path: Path) -> None:
    reference = _save(tmp_path, "wmh.nii.gz", _lesion())
    prediction = _save(tmp_path, "nothing.nii.gz", np.zeros((8, 8, 4), np.float32))
    with pytest.warns(EmptyMaskWarning, match="nothing.nii.gz"):
        result = evaluate_pair(reference, prediction)
    assert result["dice"] == 0.0 and math.isnan(result["hd95"]) and result["avd"] == 100.0
    assert (result["recall"], result["precision"], result["f1"]) == (0.0, 1.0, 0.0)


def test_both_empty_is_defined_without_crashing(tmp_path: Path) -> None:
    reference = _save(tmp_path, "wmh.nii.gz", np.zeros((8, 8, 4), np.uint8))
    prediction = _save(tmp_path, "pred.nii.gz", np.zeros((8, 8, 4), np.uint8))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = evaluate_pair(reference, prediction)
    messages = [str(w.message) for w in caught if issubclass(w.category, EmptyMaskWarning)]
    assert len(messages) == 2 and "wmh.nii.gz" in messages[0] and "pred.nii.gz" in messages[1]
    assert all(issubclass(w.category, EmptyMaskWarning) for w in caught)  # no RuntimeWarning from 0/0
    assert all(math.isnan(result[k]) for k in ("dice", "hd95", "avd"))
    assert (result["recall"], result["precision"], result["f1"]) == (1.0, 1.0, 1.0)


# --- geometry and input errors ----------------------------------------------------------------------------

def test_shape_mismatch_names_both_files(tmp_path: Path) -> None:
    reference = _save(tmp_path, "ref.nii.gz", _lesion())
    prediction = _save(tmp_path, "small.nii.gz", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(GeometryError, match=r"ref\.nii\.gz.*small\.nii\.gz.*shape"):
        evaluate_pair(reference, prediction)


def test_affine_mismatch_beyond_tolerance_is_an_error(tmp_path: Path) -> None:
    reference = _save(tmp_path, "ref.nii.gz", _lesion())
    shifted = EYE.copy()
    shifted[0, 3] = 0.5
    with pytest.raises(GeometryError, match=r"ref\.nii\.gz.*moved\.nii\.gz.*affines differ"):
        evaluate_pair(reference, _save(tmp_path, "moved.nii.gz", _lesion(), shifted))
    nearly = EYE.copy()
    nearly[0, 3] = 1e-5
    assert evaluate_pair(reference, _save(tmp_path, "close.nii.gz", _lesion(), nearly))["dice"] == 1.0
    assert evaluate_pair(reference, _save(tmp_path, "loose.nii.gz", _lesion(), shifted), affine_atol=1.0)["dice"] == 1.0


def test_bad_values_name_the_offending_file(tmp_path: Path) -> None:
    good = _save(tmp_path, "good.nii.gz", _lesion())
    probability_as_reference = _save(tmp_path, "prob_ref.nii.gz", np.full((8, 8, 4), 0.3, np.float32))
    with pytest.raises(InputError, match=r"prob_ref\.nii\.gz.*non-integer"):
        evaluate_pair(probability_as_reference, good)
    nan_prediction = np.zeros((8, 8, 4), np.float32)
    nan_prediction[0, 0, 0] = np.nan
    with pytest.raises(InputError, match=r"nan_pred\.nii\.gz.*NaN"):
        evaluate_pair(good, _save(tmp_path, "nan_pred.nii.gz", nan_prediction))
    with pytest.raises(InputError, match=r"missing\.nii\.gz.*does not exist"):
        evaluate_pair(tmp_path / "missing.nii.gz", good)


# --- real lesion masks --------------------------------------------------------------------------------------

@pytest.mark.realdata
def test_real_ms_lesion_masks_match_the_official_algorithm(shared_data: Path) -> None:
    masks = shared_data / "open_ms" / "masks_all"
    reference_path, prediction_path = (masks / f"patient{n}_GOLD_STANDARD_regtoMNI.nii.gz" for n in ("07", "26"))
    if not (reference_path.is_file() and prediction_path.is_file()):
        pytest.skip(f"open_ms masks not found in {masks}")
    image = nib.load(str(reference_path))
    reference = np.asarray(image.dataobj) > 0
    prediction = np.asarray(nib.load(str(prediction_path)).dataobj) > 0
    result = evaluate_pair(reference_path, prediction_path)
    assert result["hd95"] == pytest.approx(_official_hd95(reference, prediction, image.affine), rel=1e-9)
    assert result["dice"] == pytest.approx(2 * np.count_nonzero(reference & prediction)
                                           / (np.count_nonzero(reference) + np.count_nonzero(prediction)))
    assert result["reference_lesions"] == ndimage.label(reference, np.ones((3, 3, 3)))[1]
    assert result["reference_ml"] == pytest.approx(1.3, abs=0.1)  # about 1.3 mL (data README)
    assert evaluate_pair(reference_path, shared_data / "open_ms" / "patient07" / "lesions.nii.gz")["dice"] == 1.0
