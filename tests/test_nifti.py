"""Every bad input to the NIfTI loaders gives an error naming the file and the problem."""

from __future__ import annotations

import gzip
import re
import struct
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from wmhmap.data.nifti import (
    check_same_grid,
    grid_difference,
    load_image,
    load_labels,
    load_mask,
    load_volume,
    voxel_volume_ml,
)
from wmhmap.errors import GeometryError, InputError

AFFINE = np.diag([1.0, 1.0, 1.0, 1.0])


def save(path: Path, data: np.ndarray, affine: np.ndarray = AFFINE) -> Path:
    nib.save(nib.Nifti1Image(data, affine), str(path))
    return path


@pytest.fixture
def flair(tmp_path: Path) -> Path:
    return save(tmp_path / "flair.nii.gz", np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.nii\.gz: file does not exist"):
        load_image(tmp_path / "nope.nii.gz")


def test_folder_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is not a file"):
        load_image(tmp_path)


def test_truncated_gzip(tmp_path: Path, flair: Path) -> None:
    whole = flair.read_bytes()
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match=r"cut\.nii\.gz: unreadable or truncated NIfTI") as err:
        load_volume(cut)
    assert err.value.path == cut


def test_truncated_uncompressed(tmp_path: Path) -> None:
    whole = save(tmp_path / "a.nii", np.ones((8, 8, 8), np.float32)).read_bytes()
    cut = tmp_path / "cut.nii"
    cut.write_bytes(whole[:1000])
    with pytest.raises(InputError, match=r"(?s)cut\.nii: unreadable or truncated NIfTI .*damaged"):
        load_image(cut)


@pytest.mark.parametrize(
    "name, content",
    [
        ("garbage.nii.gz", bytes(range(256)) * 4),
        ("garbage.nii", bytes(range(256)) * 4),
        ("gzipped_garbage.nii.gz", gzip.compress(bytes(range(256)) * 4)),
        ("empty.nii.gz", b""),
    ],
)
def test_garbage_bytes(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=re.escape(name) + ": unreadable or truncated NIfTI"):
        load_image(path)


def test_4d_rejected_but_trailing_singleton_accepted(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"expected a 3D image, got 4D with shape \(3, 3, 3, 2\)"):
        load_image(save(tmp_path / "4d.nii.gz", np.zeros((3, 3, 3, 2), np.float32)))
    image = load_volume(save(tmp_path / "4d1.nii.gz", np.ones((3, 4, 5, 1), np.float32)))
    assert image.shape == (3, 4, 5)


def test_2d_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="expected a 3D image, got 2D"):
        load_image(save(tmp_path / "2d.nii.gz", np.zeros((3, 3), np.float32)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_voxels(tmp_path: Path, bad: float) -> None:
    data = np.ones((3, 3, 3), np.float32)
    data[0, 0, 0] = bad
    data[1, 1, 1] = bad
    with pytest.raises(InputError, match=r"bad\.nii\.gz: 2 voxel\(s\) are NaN or Inf"):
        load_volume(save(tmp_path / "bad.nii.gz", data))


def test_volume_is_float32(tmp_path: Path) -> None:
    image = load_volume(save(tmp_path / "int.nii.gz", np.full((2, 2, 2), 7, np.int16)))
    assert image.get_fdata(dtype=np.float32).dtype == np.float32
    assert np.asarray(image.dataobj).dtype == np.float32
    assert float(np.asarray(image.dataobj)[0, 0, 0]) == 7.0


def test_labels_outside_allowed(tmp_path: Path) -> None:
    data = np.zeros((3, 3, 3), np.uint8)
    data[0, 0, 0], data[1, 1, 1] = 3, 7
    with pytest.raises(
        InputError, match=r"labels\.nii\.gz: unexpected label values \[3, 7\] \(allowed: \[0, 1, 2\]\)"
    ):
        load_labels(save(tmp_path / "labels.nii.gz", data))


def test_negative_label(tmp_path: Path) -> None:
    data = np.zeros((3, 3, 3), np.int16)
    data[0, 0, 0] = -1
    with pytest.raises(InputError, match=r"unexpected label values \[-1\]"):
        load_labels(save(tmp_path / "neg.nii.gz", data))


def test_float_labels_accepted(tmp_path: Path) -> None:
    data = np.zeros((3, 3, 3), np.float32)
    data[0, 0, 0], data[1, 1, 1] = 1.0, 2.0
    labels = load_labels(save(tmp_path / "float.nii.gz", data))
    values = np.asarray(labels.dataobj)
    assert values.dtype == np.uint8
    assert values[0, 0, 0] == 1 and values[1, 1, 1] == 2 and int(values.sum()) == 3


def test_non_integer_labels(tmp_path: Path) -> None:
    data = np.zeros((3, 3, 3), np.float32)
    data[0, 0, 0] = 0.5
    with pytest.raises(InputError, match=r"soft\.nii\.gz: label image holds non-integer values"):
        load_labels(save(tmp_path / "soft.nii.gz", data))


def test_nan_labels(tmp_path: Path) -> None:
    data = np.zeros((3, 3, 3), np.float32)
    data[2, 2, 2] = np.nan
    with pytest.raises(InputError, match="label image contains NaN or Inf"):
        load_labels(save(tmp_path / "nan.nii.gz", data))


def test_empty_mask(tmp_path: Path) -> None:
    path = save(tmp_path / "mask.nii.gz", np.zeros((3, 3, 3), np.uint8))
    with pytest.raises(InputError, match=r"mask\.nii\.gz: mask is empty"):
        load_mask(path)
    assert not np.asarray(load_mask(path, allow_empty=True).dataobj).any()


def test_mask_binarised(tmp_path: Path) -> None:
    data = np.zeros((3, 3, 3), np.float32)
    data[0, 0, 0], data[1, 1, 1] = 0.7, 5.0
    mask = np.asarray(load_mask(save(tmp_path / "mask.nii.gz", data)).dataobj)
    assert mask.dtype == np.uint8 and int(mask.sum()) == 2 and mask.max() == 1


def test_shape_mismatch_names_both_files(tmp_path: Path, flair: Path) -> None:
    t1 = save(tmp_path / "t1.nii.gz", np.zeros((4, 5, 7), np.float32))
    images = {flair: load_volume(flair), t1: load_volume(t1)}
    with pytest.raises(
        GeometryError, match=r"flair\.nii\.gz and .*t1\.nii\.gz .*shape \(4, 5, 6\) vs \(4, 5, 7\)"
    ) as err:
        check_same_grid(images)
    assert err.value.paths == (flair, t1)


def test_affine_mismatch_names_both_files_and_difference(tmp_path: Path, flair: Path) -> None:
    shifted = AFFINE.copy()
    shifted[0, 3] = 2.5
    mask = save(tmp_path / "mask.nii.gz", np.ones((4, 5, 6), np.uint8), shifted)
    images = {flair: load_volume(flair), mask: load_mask(mask)}
    with pytest.raises(
        GeometryError,
        match=r"flair\.nii\.gz and .*mask\.nii\.gz .*affines differ by up to 2\.5 \(tolerance 0\.001\)",
    ):
        check_same_grid(images)


def test_flipped_axis_names_orientations(tmp_path: Path, flair: Path) -> None:
    flipped = np.diag([-1.0, 1.0, 1.0, 1.0])
    flipped[0, 3] = 3.0  # same world extent, first axis stored the other way
    other = nib.Nifti1Image(np.zeros((4, 5, 6), np.float32), flipped)
    assert "stored RAS vs LAS" in grid_difference(load_volume(flair), other)


def test_affine_within_tolerance_accepted(tmp_path: Path, flair: Path) -> None:
    nudged = AFFINE.copy()
    nudged[:3, 3] += 5e-4
    t1 = save(tmp_path / "t1.nii.gz", np.zeros((4, 5, 6), np.float32), nudged)
    images = {flair: load_volume(flair), t1: load_volume(t1)}
    check_same_grid(images)
    assert grid_difference(images[flair], images[t1]) is None
    with pytest.raises(GeometryError, match="affines differ by up to 0.0005"):
        check_same_grid(images, atol=1e-4)


def test_nan_affine(tmp_path: Path) -> None:
    raw = bytearray(save(tmp_path / "ok.nii", np.zeros((2, 2, 2), np.float32)).read_bytes())
    raw[280:284] = struct.pack("<f", float("nan"))  # srow_x[0] of the NIfTI-1 header (sform_code 2)
    path = tmp_path / "nanaff.nii"
    path.write_bytes(bytes(raw))
    with pytest.raises(InputError, match=r"nanaff\.nii: affine contains NaN or Inf"):
        load_image(path)


def test_voxel_volume_ml_oblique() -> None:
    # 0.9 x 1.2 x 3 mm voxels rotated 30 degrees about z and 20 about x: 3.24 mm^3 = 0.00324 mL
    a, b = np.deg2rad(30), np.deg2rad(20)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    affine = np.eye(4)
    affine[:3, :3] = rz @ rx @ np.diag([0.9, 1.2, 3.0])
    affine[:3, 3] = [10, -20, 5]
    image = nib.Nifti1Image(np.zeros((2, 2, 2), np.float32), affine)
    assert voxel_volume_ml(image) == pytest.approx(0.9 * 1.2 * 3.0 / 1000.0, rel=1e-12)
    flipped = nib.Nifti1Image(np.zeros((2, 2, 2), np.float32), np.diag([-2.0, 2.0, 2.0, 1.0]))
    assert voxel_volume_ml(flipped) == pytest.approx(0.008)
