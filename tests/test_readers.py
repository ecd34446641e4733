"""Dataset readers on generated layouts (and on open_ms arranged as the WMH 2017 challenge)."""

from __future__ import annotations

import json
import logging
from functools import cache
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from wmhmap.data.manifest import read_manifest, validate_manifest, write_manifest
from wmhmap.data.nifti import voxel_volume_ml
from wmhmap.data.readers import read_adni, read_bids, read_folder, read_wmh2017
from wmhmap.data.subject import load_subject
from wmhmap.errors import GeometryError, InputError

CONF_DATA = Path(__file__).resolve().parents[1] / "conf" / "data"


@cache
def _tiny_nifti() -> bytes:
    image = nib.Nifti1Image(np.ones((2, 2, 2), np.uint8), np.eye(4))
    return image.to_bytes()


def touch(path: Path) -> Path:
    """A tiny valid (uncompressed-content) NIfTI at ``path``; readers only need the file to exist."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_tiny_nifti())
    return path


# ----------------------------------------------------------------------------------------- wmh2017


def challenge_subject(root: Path, rel: str, labels: bool = True, t1: bool = True, flair: bool = True) -> None:
    folder = root / rel
    if flair:
        touch(folder / "pre" / "FLAIR.nii.gz")
    if t1:
        touch(folder / "pre" / "T1.nii.gz")
    if labels:
        touch(folder / "wmh.nii.gz")
    (folder / "orig").mkdir(parents=True, exist_ok=True)  # the release's raw images: never a subject


@pytest.fixture
def challenge(tmp_path: Path) -> Path:
    root = tmp_path / "WMH2017"
    for rel in (
        "training/Utrecht/0",
        "training/Utrecht/2",
        "training/Amsterdam/GE3T/100",
        "test/Singapore/51",
    ):
        challenge_subject(root, rel)
    challenge_subject(root, "test/Amsterdam/GE1T5/137", labels=False)
    (root / "training" / "README.txt").write_text("not a subject")
    return root


def test_wmh2017_layout(challenge: Path) -> None:
    frame = read_wmh2017(challenge)
    assert frame["subject_id"].tolist() == [
        "Amsterdam_GE1T5_137",
        "Singapore_51",
        "Amsterdam_GE3T_100",
        "Utrecht_0",
        "Utrecht_2",
    ]
    assert frame["site"].tolist() == ["Amsterdam", "Singapore", "Amsterdam", "Utrecht", "Utrecht"]
    assert frame["scanner"].tolist() == [
        "GE1T5",
        "Siemens_TrioTim_3T",
        "GE3T",
        "Philips_Achieva_3T",
        "Philips_Achieva_3T",
    ]
    assert frame["split"].tolist() == ["test", "test", "train", "train", "train"]
    assert frame["challenge_id"].tolist() == ["137", "51", "100", "0", "2"]
    assert set(frame["session"]) == {"1"} and frame["diagnosis"].isna().all()
    utrecht0 = frame.set_index("subject_id").loc["Utrecht_0"]
    assert utrecht0["flair"] == str(challenge / "training/Utrecht/0/pre/FLAIR.nii.gz")
    assert utrecht0["t1"] == str(challenge / "training/Utrecht/0/pre/T1.nii.gz")
    assert utrecht0["wmh"] == str(challenge / "training/Utrecht/0/wmh.nii.gz")
    assert pd.isna(frame.set_index("subject_id").at["Amsterdam_GE1T5_137", "wmh"])
    validate_manifest(frame)


def test_wmh2017_empty_root(tmp_path: Path) -> None:
    (tmp_path / "training").mkdir()
    with pytest.raises(
        InputError, match=r"no subjects found: expected training\|test/<Site>/\[<scanner>/\]<id>/pre"
    ) as err:
        read_wmh2017(tmp_path)
    assert err.value.path == tmp_path
    with pytest.raises(InputError, match="dataset root is not a folder"):
        read_wmh2017(tmp_path / "absent")


def test_wmh2017_every_bad_folder_listed(challenge: Path) -> None:
    challenge_subject(challenge, "training/Singapore/50", flair=False)
    challenge_subject(challenge, "test/Utrecht/1", flair=False, t1=False)
    challenge_subject(challenge, "training/Singapore/52", labels=False)
    challenge_subject(challenge, "training/Singapore/deeper/still/53")
    with pytest.raises(InputError, match=r"does not follow the layout .*\(5 problem\(s\)\)") as err:
        read_wmh2017(challenge)
    message = str(err.value)
    assert f"{challenge / 'training/Singapore/50'}: no FLAIR image pre/FLAIR.nii.gz" in message
    assert f"{challenge / 'test/Utrecht/1'}: no FLAIR image pre/FLAIR.nii.gz" in message
    assert f"{challenge / 'test/Utrecht/1'}: no T1 image pre/T1.nii.gz" in message
    assert f"{challenge / 'training/Singapore/52'}: training subject without reference wmh.nii.gz" in message
    assert "deeper/still/53: not at <Site>/[<scanner>/]<id> under training/" in message


@pytest.fixture
def open_ms_challenge(shared_data: Path, tmp_path: Path) -> Path:
    """open_ms patients 07, 19, 26 linked into the challenge layout (two sites, a scanner level, both splits)."""
    root = tmp_path / "open_ms_wmh2017"
    layout = {"07": "training/Utrecht/7", "19": "training/Amsterdam/GE3T/19", "26": "test/Singapore/26"}
    for patient, rel in layout.items():
        source = shared_data / "open_ms" / f"patient{patient}"
        (root / rel / "pre").mkdir(parents=True)
        (root / rel / "pre" / "FLAIR.nii.gz").symlink_to(source / "FLAIR.nii.gz")
        (root / rel / "pre" / "T1.nii.gz").symlink_to(source / "T1.nii.gz")
        (root / rel / "wmh.nii.gz").symlink_to(source / "lesions.nii.gz")
    return root


@pytest.mark.realdata
def test_wmh2017_on_open_ms(open_ms_challenge: Path, tmp_path: Path) -> None:
    frame = read_wmh2017(open_ms_challenge)
    assert frame["subject_id"].tolist() == ["Singapore_26", "Amsterdam_GE3T_19", "Utrecht_7"]
    assert frame["split"].tolist() == ["test", "train", "train"]
    manifest = tmp_path / "out" / "manifest.csv"
    write_manifest(frame, manifest)
    row = read_manifest(manifest).set_index("subject_id").loc["Utrecht_7"]
    assert row["flair"] == str(
        open_ms_challenge / "training/Utrecht/7/pre/FLAIR.nii.gz"
    )  # links kept, not resolved
    subject = load_subject({**row.to_dict(), "subject_id": "Utrecht_7"})
    assert subject.flair.shape == subject.t1.shape == subject.wmh.shape == (182, 218, 182)
    lesion_ml = int((np.asarray(subject.wmh.dataobj) == 1).sum()) * voxel_volume_ml(subject.wmh)
    assert lesion_ml == pytest.approx(1.3, abs=0.1)  # open_ms README: about 1.3 mL for patient 07


@pytest.mark.realdata
def test_open_ms_las_versus_mni_ras_mask(shared_data: Path) -> None:
    """open_ms is stored LAS, the MNI brain mask RAS on the same world grid: named, or resampled exactly."""
    flair = shared_data / "open_ms" / "patient07" / "FLAIR.nii.gz"
    mask = shared_data / "templates" / "MNI152_T1_1mm_brain_mask.nii.gz"
    row = {"subject_id": "p07", "session": "1", "flair": str(flair), "brain_mask": str(mask)}
    with pytest.raises(
        GeometryError,
        match=r"(?s)FLAIR\.nii\.gz and .*brain_mask\.nii\.gz .*affines differ .*stored LAS vs RAS",
    ):
        load_subject(row)
    subject = load_subject(row, on_mismatch="resample")
    assert np.allclose(subject.brain_mask.affine, subject.flair.affine)
    stored = np.asarray(nib.load(str(mask)).dataobj)
    assert np.array_equal(np.asarray(subject.brain_mask.dataobj), stored[::-1] > 0)


# -------------------------------------------------------------------------------------------- adni

ADNI_TABLE = """PTID,VISCODE,DX,AGE,PTGENDER,ICV,Years_bl
002_S_0413,bl,CN,76.3,Female,1500000,0
002_S_0413,m12,MCI,76.3,Female,1490000,1.0
011_S_0002,bl,SMC,74.3,Male,1600000,0
100_S_1234,bl,Dementia,81.0,Male,,0
100_S_1234,m06,EMCI,81.0,Male,1400000,0.5
"""


@pytest.fixture
def adni(tmp_path: Path) -> Path:
    root = tmp_path / "adni"
    root.mkdir()
    (root / "cohort.csv").write_text(ADNI_TABLE)
    for line in ADNI_TABLE.splitlines()[1:]:
        ptid, viscode = line.split(",")[:2]
        touch(root / ptid / viscode / "FLAIR.nii.gz")
        touch(root / ptid / viscode / "T1.nii.gz")
    return root


def test_adni_pattern(adni: Path) -> None:
    frame = read_adni(adni, "cohort.csv", extra_columns=["ICV"], columns={"years_from_baseline": "Years_bl"})
    assert frame["subject_id"].tolist() == [
        "002_S_0413",
        "002_S_0413",
        "011_S_0002",
        "100_S_1234",
        "100_S_1234",
    ]
    assert frame["session"].tolist() == ["bl", "m12", "bl", "bl", "m06"]
    assert frame["site"].tolist() == ["002", "002", "011", "100", "100"]
    assert frame["diagnosis"].tolist() == ["CN", "MCI", "CN", "AD", "MCI"]
    assert frame["sex"].tolist() == ["F", "F", "M", "M", "M"]
    assert frame["age"].tolist() == pytest.approx([76.3, 77.3, 74.3, 81.0, 81.5])
    assert frame["ICV"].tolist()[:3] == ["1500000", "1490000", "1600000"] and pd.isna(frame["ICV"][3])
    assert set(frame["split"]) == {"unlabelled"} and frame["wmh"].isna().all()
    assert frame.at[1, "flair"] == str(adni / "002_S_0413" / "m12" / "FLAIR.nii.gz")
    validated = validate_manifest(frame)
    assert len(validated) == 5 and validated["subject_id"].nunique() == 3


def test_adni_glob_pattern_and_labels(adni: Path) -> None:
    for ptid, viscode in (("002_S_0413", "bl"), ("002_S_0413", "m12"), ("011_S_0002", "bl")):
        touch(adni / ptid / viscode / f"{ptid}_2011-01-01_wmh.nii.gz")
    (adni / "cohort.csv").write_text("\n".join(ADNI_TABLE.splitlines()[:4]) + "\n")
    images = {"flair": "{PTID}/{VISCODE}/FLAIR.nii.gz", "wmh": "{PTID}/{VISCODE}/*_wmh.nii.gz"}
    frame = read_adni(adni, adni / "cohort.csv", images=images)
    assert frame["split"].tolist() == ["test"] * 3
    assert frame.at[0, "wmh"] == str(adni / "002_S_0413" / "bl" / "002_S_0413_2011-01-01_wmh.nii.gz")
    touch(adni / "011_S_0002" / "bl" / "second_wmh.nii.gz")
    with pytest.raises(InputError, match=r"row 4 \(011_S_0002/bl\): wmh pattern matches 2 files"):
        read_adni(adni, "cohort.csv", images=images)


def test_adni_path_table(adni: Path) -> None:
    (adni / "lists").mkdir()
    (adni / "lists" / "paths.csv").write_text(
        "PTID,VISCODE,flair,t1,wmh\n"
        "002_S_0413,bl,../002_S_0413/bl/FLAIR.nii.gz,../002_S_0413/bl/T1.nii.gz,../002_S_0413/bl/FLAIR.nii.gz\n"
        "002_S_0413,m12,../002_S_0413/m12/FLAIR.nii.gz,../002_S_0413/m12/T1.nii.gz,\n"
        "011_S_0002,bl,../011_S_0002/bl/FLAIR.nii.gz,../011_S_0002/bl/T1.nii.gz,\n"
        "100_S_1234,bl,../100_S_1234/bl/FLAIR.nii.gz,../100_S_1234/bl/T1.nii.gz,\n"
        "100_S_1234,m06,../100_S_1234/m06/FLAIR.nii.gz,../100_S_1234/m06/T1.nii.gz,\n"
        "999_S_9999,bl,../nowhere.nii.gz,,\n"
    )
    frame = read_adni(adni, "cohort.csv", path_table="lists/paths.csv")
    assert frame["split"].tolist() == ["test", "unlabelled", "unlabelled", "unlabelled", "unlabelled"]
    assert frame.at[0, "flair"] == str(adni / "002_S_0413" / "bl" / "FLAIR.nii.gz")
    assert frame["diagnosis"].tolist() == ["CN", "MCI", "CN", "AD", "MCI"]
    validate_manifest(frame)


def test_adni_path_table_missing_and_duplicate_rows(adni: Path) -> None:
    paths = adni / "paths.csv"
    paths.write_text(
        "PTID,VISCODE,flair,t1\n002_S_0413,bl,002_S_0413/bl/FLAIR.nii.gz,002_S_0413/bl/gone.nii.gz\n"
    )
    with pytest.raises(InputError, match=r"images missing for 5 of 5") as err:
        read_adni(adni, "cohort.csv", path_table="paths.csv")
    assert f"row 2 (002_S_0413/bl): t1 not found: {adni / '002_S_0413/bl/gone.nii.gz'}" in str(err.value)
    assert f"row 6 (100_S_1234/m06): no row in path table {paths}" in str(err.value)
    paths.write_text("PTID,VISCODE,flair\nA,bl,x.nii.gz\nA,bl,y.nii.gz\n")
    with pytest.raises(InputError, match=r"rows 2 and 3: both give images of A/bl"):
        read_adni(adni, "cohort.csv", path_table="paths.csv")


def test_adni_missing_images_all_listed_or_skipped(adni: Path, caplog: pytest.LogCaptureFixture) -> None:
    (adni / "002_S_0413" / "m12" / "FLAIR.nii.gz").unlink()
    (adni / "100_S_1234" / "m06" / "T1.nii.gz").unlink()
    with pytest.raises(InputError, match=r"images missing for 2 of 5 visit\(s\)") as err:
        read_adni(adni, "cohort.csv")
    message = str(err.value)
    assert f"row 3 (002_S_0413/m12): flair not found: {adni / '002_S_0413/m12/FLAIR.nii.gz'}" in message
    assert f"row 6 (100_S_1234/m06): t1 not found: {adni / '100_S_1234/m06/T1.nii.gz'}" in message
    with caplog.at_level(logging.WARNING):
        frame = read_adni(adni, "cohort.csv", on_missing="skip")
    assert list(zip(frame["subject_id"], frame["session"], strict=True)) == [
        ("002_S_0413", "bl"), ("011_S_0002", "bl"), ("100_S_1234", "bl"),
    ]  # fmt: skip
    assert "skipping 2 of 5 visit(s) without images" in caplog.text


def test_adni_bad_tables(adni: Path) -> None:
    table = adni / "cohort.csv"
    table.write_text(ADNI_TABLE.replace("SMC", "Converter").replace("Dementia", "Probable AD"))
    with pytest.raises(
        InputError,
        match=r"unknown diagnosis code\(s\) 'Converter' \(1 row\(s\)\), 'Probable AD' \(1 row\(s\)\)",
    ):
        read_adni(adni, table)
    frame = read_adni(
        adni,
        table,
        diagnosis_map={"CN": "CN", "MCI": "MCI", "EMCI": "MCI", "Probable AD": "AD", "Converter": None},
    )
    assert pd.isna(frame["diagnosis"][2]) and frame["diagnosis"][3] == "AD"
    table.write_text(ADNI_TABLE.replace("002_S_0413", "ABC-0413"))
    with pytest.raises(InputError, match=r"row 2: site pattern .* does not match subject 'ABC-0413'"):
        read_adni(adni, table)
    table.write_text(ADNI_TABLE.replace("PTGENDER", "SEX").replace("76.3", "unknown"))
    with pytest.raises(InputError, match=r"missing column\(s\) \['PTGENDER'\]; the table has .*SEX"):
        read_adni(adni, table)
    with pytest.raises(InputError, match=r"AGE column holds non-numeric value\(s\) 'unknown' in 2 row\(s\)"):
        read_adni(adni, table, columns={"sex": "SEX"})
    table.write_text(ADNI_TABLE + "002_S_0413,bl,CN,76.3,Female,1500000,0\n")
    with pytest.raises(InputError, match=r"rows 2 and 7: same visit 002_S_0413/bl"):
        read_adni(adni, table)
    table.write_text(ADNI_TABLE)
    with pytest.raises(InputError, match=r"pattern '\{RID\}/FLAIR.nii.gz' names column\(s\) \['RID'\]"):
        read_adni(adni, "cohort.csv", images={"flair": "{RID}/FLAIR.nii.gz"})


# -------------------------------------------------------------------------------------------- bids


@pytest.fixture
def bids(tmp_path: Path) -> Path:
    root = tmp_path / "ds-wmh"
    for rel in ("sub-01/ses-01", "sub-01/ses-02", "sub-02"):
        prefix = rel.replace("/", "_")
        touch(root / rel / "anat" / f"{prefix}_FLAIR.nii.gz")
        touch(root / rel / "anat" / f"{prefix}_T1w.nii.gz")
    (root / "sub-01/ses-01/anat/sub-01_ses-01_FLAIR.json").write_text(
        json.dumps(
            {"Manufacturer": "Siemens", "ManufacturersModelName": "Prisma", "MagneticFieldStrength": 3}
        )
    )
    touch(root / "sub-03/ses-01/anat/sub-03_ses-01_T1w.nii.gz")  # a T1-only visit: not a subject
    touch(root / "derivatives/wmh/sub-01/ses-01/anat/sub-01_ses-01_label-WMH_mask.nii.gz")
    touch(root / "derivatives/wmh/sub-02/anat/sub-02_label-WMH_mask.nii.gz")
    touch(root / "derivatives/wmh/sub-02/anat/sub-02_desc-brain_mask.nii.gz")
    (root / "participants.tsv").write_text(
        "participant_id\tage\tsex\tgroup\tcentre\nsub-01\t70\tmale\tDementia\tA\nsub-02\tn/a\tF\tCN\tB\nsub-03\t60\tM\tCN\tA\n"
    )
    (root / "sub-01" / "sub-01_sessions.tsv").write_text(
        "session_id\tage\tgroup\nses-01\t70\tn/a\nses-02\t72.5\tMCI\n"
    )
    return root


def test_bids_sessions_derivatives_participants(bids: Path) -> None:
    frame = read_bids(
        bids,
        labels_dir="derivatives/wmh",
        brain_mask_pattern="*_desc-brain_mask.nii*",
        columns={"diagnosis": "group", "site": "centre"},
    )
    assert list(zip(frame["subject_id"], frame["session"], strict=True)) == [
        ("sub-01", "01"),
        ("sub-01", "02"),
        ("sub-02", "1"),
    ]
    assert frame["diagnosis"].tolist() == ["AD", "MCI", "CN"]
    assert frame["age"].tolist()[:2] == [70.0, 72.5] and pd.isna(frame["age"][2])
    assert frame["sex"].tolist() == ["M", "M", "F"]
    assert frame["site"].tolist() == ["A", "A", "B"]
    assert frame["split"].tolist() == ["test", "unlabelled", "test"]
    assert frame.at[0, "wmh"] == str(
        bids / "derivatives/wmh/sub-01/ses-01/anat/sub-01_ses-01_label-WMH_mask.nii.gz"
    )
    assert frame.at[2, "brain_mask"] == str(
        bids / "derivatives/wmh/sub-02/anat/sub-02_desc-brain_mask.nii.gz"
    )
    assert frame.at[0, "scanner"] == "Siemens Prisma 3T" and pd.isna(frame.at[1, "scanner"])
    assert frame.at[1, "t1"] == str(bids / "sub-01/ses-02/anat/sub-01_ses-02_T1w.nii.gz")
    validate_manifest(frame)


def test_bids_without_labels_or_participants(bids: Path) -> None:
    (bids / "participants.tsv").unlink()
    frame = read_bids(bids, site="siteX")
    assert set(frame["split"]) == {"unlabelled"} and set(frame["site"]) == {"siteX"}
    assert frame["diagnosis"].isna().all()
    assert frame["age"].tolist()[:2] == [70.0, 72.5]  # from sub-01_sessions.tsv alone


def test_bids_errors(bids: Path, tmp_path: Path) -> None:
    with pytest.raises(
        InputError, match=r"missing column\(s\) \['diagnosis'\]; .*group.*columns.<field>=null"
    ):
        read_bids(bids)
    with pytest.raises(InputError, match="labels folder does not exist"):
        read_bids(bids, labels_dir="derivatives/none", columns={"diagnosis": None})
    (bids / "sub-02/anat/sub-02_T1w.nii.gz").unlink()
    touch(bids / "sub-01/ses-02/anat/sub-01_ses-02_run-2_FLAIR.nii.gz")
    with pytest.raises(InputError, match=r"\(2 problem\(s\)\)") as err:
        read_bids(bids, columns={"diagnosis": None})
    assert f"{bids / 'sub-02/anat'}: no T1 matching '*_T1w.nii*'" in str(err.value)
    assert "sub-01/ses-02: 2 flair files match, narrow the pattern" in str(err.value)
    (bids / "participants.tsv").write_text("participant_id\tage\tsex\nsub-01\t70\tM\nsub-01\t71\tM\n")
    with pytest.raises(
        InputError, match=r"participants\.tsv: participant_id values appear more than once: \['sub-01'\]"
    ):
        read_bids(bids, t1_pattern=None, flair_pattern="*_ses-01_FLAIR.nii.gz", columns={"diagnosis": None})
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no FLAIR images found: expected sub-\*/\[ses-\*/\]anat/\*_FLAIR"):
        read_bids(tmp_path / "empty")


# ------------------------------------------------------------------------------------------ folder


def test_folder_by_subject_folder(tmp_path: Path) -> None:
    root = tmp_path / "scans"
    touch(root / "subA" / "subA_FLAIR.nii.gz")
    touch(root / "subA" / "subA_T1.nii")
    touch(root / "subA" / "subA_FLAIR_wmh.nii.gz")
    touch(root / "site2" / "subB" / "flair.nii.gz")
    touch(root / "site2" / "subB" / "t1_mprage.nii.gz")
    (root / "subA" / "notes_FLAIR.txt").write_text("not an image")
    frame = read_folder(root, label_pattern="*wmh*")
    assert frame["subject_id"].tolist() == ["site2_subB", "subA"]
    assert frame["split"].tolist() == ["unlabelled", "test"]
    assert frame.at[1, "flair"] == str(root / "subA" / "subA_FLAIR.nii.gz")
    assert frame.at[1, "wmh"] == str(root / "subA" / "subA_FLAIR_wmh.nii.gz")
    assert frame.at[0, "t1"] == str(root / "site2" / "subB" / "t1_mprage.nii.gz")
    assert set(frame["site"]) == {"scans"} and set(frame["session"]) == {"1"}
    validate_manifest(frame)


def test_folder_by_stem(tmp_path: Path) -> None:
    for name in (
        "p1_s1_FLAIR.nii.gz",
        "p1_s1_T1.nii.gz",
        "p1_s2_FLAIR.nii.gz",
        "p1_s2_T1.nii.gz",
        "p2_s1_FLAIR.nii.gz",
    ):
        touch(tmp_path / name)
    frame = read_folder(
        tmp_path,
        t1_pattern=None,
        group_by="stem",
        stem_regex=r"^(?P<subject>p\d+)_s(?P<session>\d+)_",
        site="here",
    )
    assert list(zip(frame["subject_id"], frame["session"], strict=True)) == [
        ("p1", "1"),
        ("p1", "2"),
        ("p2", "1"),
    ]
    assert frame["t1"].isna().tolist() == [True, True, True]  # T1 pattern off: not read
    assert set(frame["site"]) == {"here"}
    validate_manifest(frame)
    with pytest.raises(InputError, match=r"subject p2: no file matches the T1 pattern '\*T1\*\.nii\*'"):
        read_folder(tmp_path, group_by="stem", stem_regex=r"^(?P<subject>p\d+)_s(?P<session>\d+)_")


def test_folder_errors(tmp_path: Path) -> None:
    touch(tmp_path / "a" / "FLAIR_1.nii.gz")
    touch(tmp_path / "a" / "FLAIR_2.nii.gz")
    touch(tmp_path / "a" / "T1.nii.gz")
    touch(tmp_path / "b" / "T1.nii.gz")
    with pytest.raises(InputError, match=r"\(2 problem\(s\)\)") as err:
        read_folder(tmp_path)
    assert "subject a: 2 files match the flair pattern (use group_by=stem" in str(err.value)
    assert "subject b: no file matches the FLAIR pattern '*FLAIR*.nii*'" in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        InputError, match=r"empty: no NIfTI file \(\.nii, \.nii\.gz\) matches the FLAIR pattern"
    ):
        read_folder(tmp_path / "empty")
    with pytest.raises(ValueError, match=r"needs a named group \(\?P<subject>"):
        read_folder(tmp_path, group_by="stem", stem_regex=r"^(\w+)_")


# -------------------------------------------------------------------------------- configs in conf/


@pytest.mark.parametrize(
    "name, overrides",
    [
        ("wmh2017", []),
        ("adni", ["data.reader.table=cohort.csv"]),
        ("bids", ["data.reader.labels_dir=derivatives/wmh", "data.reader.columns.diagnosis=group"]),
        ("folder", []),
    ],
)
def test_data_configs_build_their_reader(
    name: str, overrides: list[str], challenge: Path, adni: Path, bids: Path, tmp_path: Path
) -> None:
    roots = {"wmh2017": challenge, "adni": adni, "bids": bids, "folder": challenge / "training" / "Utrecht"}
    data = OmegaConf.load(CONF_DATA / f"{name}.yaml")
    assert data.name == name and OmegaConf.is_missing(data, "root")
    assert data.reader._target_ == f"wmhmap.data.readers.{name}.read_{name}"
    cfg = OmegaConf.merge(
        {"paths": {"data_dir": str(tmp_path / "data")}, "data": data},
        OmegaConf.from_dotlist([f"data.root={roots[name]}", *overrides]),
    )
    assert cfg.data.manifest_path == str(tmp_path / "data" / name / "manifest.csv")
    frame = instantiate(cfg.data.reader, _convert_="all")
    write_manifest(frame, cfg.data.manifest_path)
    assert len(read_manifest(cfg.data.manifest_path)) == len(frame) > 0
