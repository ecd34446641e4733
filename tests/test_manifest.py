"""The manifest contract: validation lists every offending row; paths are relative on disk, absolute in memory."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from wmhmap.data.manifest import read_manifest, validate_manifest, write_manifest
from wmhmap.errors import ManifestError


@pytest.fixture
def images(tmp_path: Path) -> Path:
    """A data folder with images/<s>_FLAIR.nii.gz and <s>_T1.nii.gz for s in a, b, c (content irrelevant)."""
    folder = tmp_path / "images"
    folder.mkdir()
    for subject in "abc":
        for modality in ("FLAIR", "T1"):
            (folder / f"{subject}_{modality}.nii.gz").write_bytes(b"x")
    return folder


def table(images: Path, **overrides: list) -> pd.DataFrame:
    columns = {
        "subject_id": ["a", "b", "c"],
        "session": ["1", "1", "1"],
        "site": ["s1", "s1", "s2"],
        "split": ["train", "val", "test"],
        "flair": [str(images / f"{s}_FLAIR.nii.gz") for s in "abc"],
        "t1": [str(images / f"{s}_T1.nii.gz") for s in "abc"],
        "diagnosis": ["CN", "MCI", "AD"],
        "age": [70, 71.5, None],
        "sex": ["F", "M", None],
    }
    columns.update(overrides)
    return pd.DataFrame(columns)


def test_valid_table_is_normalised(images: Path) -> None:
    frame = validate_manifest(table(images, session=[1, 2, 1]))
    assert list(frame.columns[:12]) == [
        "subject_id", "session", "site", "split", "flair",
        "t1", "wmh", "brain_mask", "diagnosis", "age", "sex", "scanner",
    ]  # fmt: skip
    assert frame["session"].tolist() == ["1", "2", "1"]
    assert frame["wmh"].isna().all() and frame["scanner"].isna().all()
    assert frame["age"].iloc[1] == 71.5 and pd.isna(frame["age"].iloc[2])


def test_missing_columns(images: Path) -> None:
    frame = table(images).drop(columns=["site", "flair"])
    with pytest.raises(ManifestError, match=r"missing required column\(s\): site, flair"):
        validate_manifest(frame)


def test_optional_columns_may_be_absent(images: Path) -> None:
    # Regression: absent optional columns were filled with pd.NA, then read as the text '<NA>'.
    frame = table(images).drop(columns=["t1", "diagnosis", "age", "sex"])
    out = validate_manifest(frame)
    assert out["diagnosis"].isna().all() and out["sex"].isna().all()


def test_empty_required_values_listed(images: Path) -> None:
    frame = table(images, site=["s1", None, " "])
    with pytest.raises(
        ManifestError, match=r"(?s)row 3 \(b/1\): empty required column 'site'.*row 4 \(c/1\)"
    ):
        validate_manifest(frame)


def test_duplicate_subject_session_rows_all_listed(images: Path) -> None:
    frame = pd.concat([table(images), table(images).iloc[[0, 0, 1]]], ignore_index=True)
    with pytest.raises(ManifestError) as err:
        validate_manifest(frame)
    assert "rows 2, 5, 6: duplicate subject/session a/1" in str(err.value)
    assert "rows 3, 7: duplicate subject/session b/1" in str(err.value)
    assert len(err.value.problems) == 2


def test_missing_files_every_row_listed(images: Path) -> None:
    (images / "a_FLAIR.nii.gz").unlink()
    (images / "c_FLAIR.nii.gz").unlink()
    (images / "c_T1.nii.gz").unlink()
    with pytest.raises(ManifestError, match=r"invalid \(3 problem\(s\)\)") as err:
        validate_manifest(table(images))
    message = str(err.value)
    assert f"row 2 (a/1): flair file not found: {images / 'a_FLAIR.nii.gz'}" in message
    assert f"row 4 (c/1): flair file not found: {images / 'c_FLAIR.nii.gz'}" in message
    assert f"row 4 (c/1): t1 file not found: {images / 'c_T1.nii.gz'}" in message
    validate_manifest(table(images), check_files=False)


def test_unknown_diagnosis_split_sex_and_bad_age(images: Path) -> None:
    frame = table(images, diagnosis=["CN", "Dementia", "AD"], split=["train", "training", "test"])
    frame["sex"] = ["F", "Male", None]
    frame["age"] = [70, "seventy", 250]
    with pytest.raises(ManifestError) as err:
        validate_manifest(frame)
    message = str(err.value)
    assert "row 3 (b/1): unknown diagnosis 'Dementia' (expected one of ['AD', 'CN', 'MCI'])" in message
    assert (
        "row 3 (b/1): unknown split 'training' (expected one of ['test', 'train', 'unlabelled', 'val'])"
        in message
    )
    assert "row 3 (b/1): unknown sex 'Male'" in message
    assert "row 3 (b/1): age 'seventy' is not a number" in message
    assert "row 4 (c/1): implausible age 250" in message


def test_custom_diagnoses(images: Path) -> None:
    frame = table(images, diagnosis=["HC", "MS", None])
    assert validate_manifest(frame, diagnoses={"HC", "MS"})["diagnosis"].tolist()[:2] == ["HC", "MS"]


def test_row_numbers_ignore_the_frame_index(images: Path) -> None:
    frame = table(images, split=["train", "bogus", "test"])
    frame.index = ["x", "y", "z"]
    with pytest.raises(ManifestError, match=r"row 3 \(b/1\): unknown split 'bogus'"):
        validate_manifest(frame)


def test_relative_paths_resolved_against_manifest_folder(tmp_path: Path, images: Path) -> None:
    frame = table(
        images, flair=[f"images/{s}_FLAIR.nii.gz" for s in "abc"], t1=[None, "", "images/c_T1.nii.gz"]
    )
    manifest = tmp_path / "manifest.csv"
    frame.to_csv(manifest, index=False)
    read = read_manifest(manifest)
    assert read["flair"].tolist() == [str(images / f"{s}_FLAIR.nii.gz") for s in "abc"]
    assert read["t1"].isna().tolist() == [True, True, False]
    with pytest.raises(ManifestError, match=r"row 2 \(a/1\): flair file not found: .*sub/images/a_FLAIR"):
        (tmp_path / "sub").mkdir()
        frame.to_csv(tmp_path / "sub" / "manifest.csv", index=False)
        read_manifest(tmp_path / "sub" / "manifest.csv")


def test_write_read_round_trip_keeps_relative_paths(tmp_path: Path, images: Path) -> None:
    frame = table(images, subject_id=["007", "b", "c"])
    frame["icv"] = [1.5, 1.4, 1.3]
    path = tmp_path / "out" / "manifest.csv"
    write_manifest(frame, path)
    on_disk = pd.read_csv(path, dtype=str)
    assert on_disk["flair"].tolist() == [f"../images/{s}_FLAIR.nii.gz" for s in "abc"]
    back = read_manifest(path)
    assert back["subject_id"].tolist() == ["007", "b", "c"]
    assert back["flair"].tolist() == frame["flair"].tolist()
    assert back["icv"].tolist() == [1.5, 1.4, 1.3]
    assert not list(path.parent.glob(".*"))  # no temporary file left beside it


def test_unreadable_or_absent_manifest(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="file does not exist"):
        read_manifest(tmp_path / "absent.csv")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"")
    with pytest.raises(ManifestError, match=r"(?s)bad\.csv is invalid .*not a readable CSV"):
        read_manifest(bad)
