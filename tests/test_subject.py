"""load_subject: one subject's images on the FLAIR grid, or an error naming the mismatch."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from wmhmap.data.subject import load_subject
from wmhmap.errors import GeometryError, InputError

SHAPE = (6, 7, 8)


def save(path: Path, data: np.ndarray, affine: np.ndarray) -> str:
    nib.save(nib.Nifti1Image(data, affine), str(path))
    return str(path)


@pytest.fixture
def row(tmp_path: Path) -> dict[str, object]:
    """FLAIR, T1, WMH labels and brain mask of one subject on one 6x7x8 grid of 1 x 1 x 2 mm voxels."""
    affine = np.diag([1.0, 1.0, 2.0, 1.0])
    rng = np.random.default_rng(0)
    labels = np.zeros(SHAPE, np.uint8)
    labels[2:4, 3:5, 4] = 1
    labels[1, 1, 1] = 2
    return {
        "subject_id": "s01",
        "session": "1",
        "flair": save(tmp_path / "flair.nii.gz", rng.random(SHAPE, np.float32), affine),
        "t1": save(tmp_path / "t1.nii.gz", rng.random(SHAPE, np.float32), affine),
        "wmh": save(tmp_path / "wmh.nii.gz", labels, affine),
        "brain_mask": save(tmp_path / "mask.nii.gz", np.ones(SHAPE, np.uint8), affine),
    }


def test_matching_grids(row: dict[str, object]) -> None:
    subject = load_subject(row)
    assert subject.subject_id == "s01" and subject.session == "1"
    for name in ("flair", "t1", "wmh", "brain_mask"):
        image = getattr(subject, name)
        assert image.shape == SHAPE and np.allclose(image.affine, subject.flair.affine)
        assert subject.paths[name] == Path(str(row[name]))
    assert int((np.asarray(subject.wmh.dataobj) == 1).sum()) == 4
    assert subject.modality("T1") is subject.t1


def test_absent_modalities_are_none(row: dict[str, object]) -> None:
    subject = load_subject({**row, "t1": float("nan"), "wmh": None, "brain_mask": None})
    assert subject.t1 is None and subject.wmh is None
    with pytest.raises(ValueError, match="subject s01/1 has no t1 image"):
        subject.modality("t1")


def test_bad_label_file_names_it(row: dict[str, object], tmp_path: Path) -> None:
    bad = np.zeros(SHAPE, np.uint8)
    bad[0, 0, 0] = 4
    row["wmh"] = save(tmp_path / "bad_wmh.nii.gz", bad, np.diag([1.0, 1.0, 2.0, 1.0]))
    with pytest.raises(InputError, match=r"bad_wmh\.nii\.gz: unexpected label values \[4\]"):
        load_subject(row)


def test_mismatch_error_names_both_files(row: dict[str, object], tmp_path: Path) -> None:
    row["t1"] = save(
        tmp_path / "t1_coarse.nii.gz", np.ones((3, 7, 8), np.float32), np.diag([2.0, 1.0, 2.0, 1.0])
    )
    with pytest.raises(
        GeometryError, match=r"flair\.nii\.gz and .*t1_coarse\.nii\.gz .*shape \(6, 7, 8\) vs \(3, 7, 8\)"
    ):
        load_subject(row)


def test_resample_puts_t1_and_mask_on_flair_grid(row: dict[str, object], tmp_path: Path) -> None:
    # T1 on a 2 x 1 x 2 mm grid over the same field of view: value = 10 * its voxel index along x.
    coarse = np.diag([2.0, 1.0, 2.0, 1.0])
    coarse[0, 3] = 0.5  # centres of coarse voxel i lie halfway between fine voxels 2i and 2i+1
    t1 = np.broadcast_to((10.0 * np.arange(3, dtype=np.float32))[:, None, None], (3, 7, 8)).copy()
    row["t1"] = save(tmp_path / "t1_coarse.nii.gz", t1, coarse)
    # Brain mask stored with x flipped (LAS) on the FLAIR's world grid: it must come back flipped.
    flipped = np.diag([-1.0, 1.0, 2.0, 1.0])
    flipped[0, 3] = SHAPE[0] - 1
    mask = np.zeros(SHAPE, np.uint8)
    mask[0] = 1  # stored first x plane = world x 5 = the FLAIR's last plane
    row["brain_mask"] = save(tmp_path / "mask_las.nii.gz", mask, flipped)

    subject = load_subject(row, on_mismatch="resample")
    for image in (subject.t1, subject.brain_mask):
        assert image.shape == SHAPE and np.allclose(image.affine, subject.flair.affine)
    t1_fine = np.asarray(subject.t1.dataobj)[:, 3, 4]
    # fine x = 1..4 lie between coarse centres 0.5, 2.5, 4.5: linear interpolation of 0, 10, 20
    assert t1_fine[1:5] == pytest.approx([2.5, 7.5, 12.5, 17.5])
    resampled_mask = np.asarray(subject.brain_mask.dataobj)
    assert resampled_mask.dtype == np.uint8
    assert resampled_mask[-1].all() and not resampled_mask[:-1].any()
    assert np.array_equal(np.asarray(subject.wmh.dataobj), np.asarray(nib.load(str(row["wmh"])).dataobj))
