"""The quantify stage (issue 5): the CLI config end to end on generated images in template space,
the long / wide table contract, registration-failure flags, mask resolution, and identity
quantification of a real subject equal to direct counting."""

from __future__ import annotations

import math

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from wmhmap.cli.common import compose_stage
from wmhmap.cli.quantify import run as quantify_main_run
from wmhmap.errors import ManifestError
from wmhmap.regions.quantify import LONG_COLUMNS, Quantifier, quantify_cohort, wide_table
from wmhmap.regions.registration import RegistrationSettings
from wmhmap.regions.schemes import AtlasScheme, BullseyeScheme, DepthScheme
from wmhmap.regions.stage import resolve_masks


def _write_cohort(folder, n=2):
    """Subjects on nilearn's 2 mm template grid (identity registration): the template as T1, a
    FLAIR-like image from the tissue maps and periventricular WMH blobs."""
    from nilearn import datasets

    template = datasets.load_mni152_template(resolution=2)
    gm = np.asarray(datasets.load_mni152_gm_template(resolution=2).dataobj)
    wm = np.asarray(datasets.load_mni152_wm_template(resolution=2).dataobj)
    brain = np.asarray(datasets.load_mni152_brain_mask(resolution=2).dataobj) > 0
    t1 = np.asarray(template.dataobj, np.float32)
    grid = np.indices(t1.shape)
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        wmh = np.zeros(t1.shape, np.uint8)
        for centre in ((40 + 3 * i, 60, 50), (58, 62, 52), (45, 50, 60)):
            wmh[((grid - np.array(centre)[:, None, None, None]) ** 2).sum(0) <= (3 + i) ** 2] = 1
        wmh &= (wm > 0.5).astype(np.uint8)
        flair = (0.2 * np.clip(brain - gm - wm, 0, 1) + 0.8 * gm + 0.6 * wm) * brain
        flair[wmh > 0] = 1.3
        flair = (100 * flair + rng.normal(0, 2, t1.shape) * brain).astype(np.float32)
        sid = f"sub{i + 1}"
        for name, data in (("t1", t1), ("flair", flair), ("wmh", wmh)):
            nib.save(nib.Nifti1Image(data, template.affine), folder / f"{sid}_{name}.nii.gz")
        rows.append({"subject_id": sid, "session": "1", "site": "A", "split": "test", "flair": f"{sid}_flair.nii.gz",
                     "t1": f"{sid}_t1.nii.gz", "wmh": f"{sid}_wmh.nii.gz", "diagnosis": ["CN", "AD"][i % 2],
                     "age": 70 + i, "sex": "F"})
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    return folder / "manifest.csv"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return _write_cohort(tmp_path_factory.mktemp("cohort"))


ASEG = """# Measure EstimatedTotalIntraCranialVol, eTIV, Estimated Total Intracranial Volume, {icv}, mm^3
# ColHeaders  Index SegId NVoxels Volume_mm3 StructName
  1  17  4000  4000.0  Left-Hippocampus
  2  53  4100  4100.0  Right-Hippocampus
"""


def test_cli_end_to_end_on_template_space_images(cohort, tmp_path):
    for i, sid in enumerate(("sub1", "sub2")):   # FreeSurfer stats imported for both subjects
        (tmp_path / f"fs/{sid}/stats").mkdir(parents=True)
        (tmp_path / f"fs/{sid}/stats/aseg.stats").write_text(ASEG.format(icv=1500000.0 + 1000 * i))
    run = tmp_path / "run"
    cfg = compose_stage("quantify", [f"manifest={cohort}", "registration.method=identity", "reference_resolution=2",
                                     f"cache_dir={tmp_path / 'cache'}", "qc.subject_figures=1", "workers=2",
                                     f"structures.freesurfer='{tmp_path}/fs/{{subject_id}}/stats'"], run_dir=run)
    assert set(cfg.schemes) == {"builtin", "depth", "bullseye"}
    assert quantify_main_run(cfg) == 2

    long = pd.read_csv(run / "regional_wmh_long.csv", dtype={"session": str})
    assert tuple(long.columns) == LONG_COLUMNS
    assert set(long["scheme"]) == {"builtin", "depth", "bullseye"} and long["registration_ok"].all()
    pd.testing.assert_frame_equal(pd.read_parquet(run / "regional_wmh_long.parquet"), long, check_dtype=False)

    wide = pd.read_csv(run / "features.csv", dtype={"session": str})
    assert list(wide.columns[:8]) == ["subject_id", "session", "site", "diagnosis", "age", "sex", "icv_ml", "wmh_total_ml"]
    assert wide.columns[-1] == "registration_ok" and wide["registration_ok"].all()
    regional = [c for c in wide.columns if c.startswith("wmh_ml__")]
    assert "wmh_ml__builtin__frontal_periventricular_left" in regional
    assert "wmh_ml__depth__periventricular" in regional and "wmh_ml__bullseye__frontal_shell1_left" in regional
    assert len(regional) == len(long) // 2
    assert {"vol_ml__gm", "vol_ml__wm", "vol_ml__csf", "vol_ml__lateral_ventricles"} <= set(wide.columns)
    assert list(wide.columns) == (list(wide.columns[:8]) + regional
                                  + sorted(c for c in wide.columns if c.startswith("vol_ml__")) + ["registration_ok"])

    manifest = pd.read_csv(cohort)
    for i, row in wide.iterrows():
        wmh = np.asarray(nib.load(cohort.parent / manifest.loc[i, "wmh"]).dataobj) == 1
        assert row["wmh_total_ml"] == pytest.approx(wmh.sum() * 0.008)
        depth_sum = sum(row[c] for c in regional if c.startswith("wmh_ml__depth__"))
        assert depth_sum == pytest.approx(row["wmh_total_ml"])   # every lesion voxel lies in some depth band
        assert row["icv_ml"] == pytest.approx(1500.0 + i)               # eTIV imported from aseg.stats
        assert row["vol_ml__hippocampus"] == pytest.approx(8.1) and row["vol_ml__lateral_ventricles"] > 5
    assert wide.loc[1, "wmh_total_ml"] > wide.loc[0, "wmh_total_ml"]
    assert (run / "qc/regional_wmh_bars.png").is_file() and (run / "qc/subjects/sub1_1.png").is_file()
    assert not (run / "qc/subjects/sub2_1.png").exists()
    sources = pd.read_csv(run / "structures_long.csv").set_index(["subject_id", "structure"])["source"]
    assert sources[("sub1", "hippocampus")] == "freesurfer" and sources[("sub1", "gm")] == "tissue"
    qc = pd.read_csv(run / "registration_qc.csv")
    assert qc["target"].tolist() == ["reference", "reference"] and qc["method"].eq("identity").all()


def test_failed_registration_is_flagged_with_nan_regions(cohort, tmp_path):
    blank = tmp_path / "blank.nii.gz"
    source = nib.load(cohort.parent / "sub1_t1.nii.gz")
    nib.save(nib.Nifti1Image(np.zeros(source.shape, np.float32), source.affine), blank)
    manifest = pd.read_csv(cohort, dtype={"session": str})
    manifest["flair"] = manifest["flair"].map(lambda p: str(cohort.parent / p))
    manifest["wmh"] = manifest["wmh"].map(lambda p: str(cohort.parent / p))
    manifest["t1"] = [str(blank), str(cohort.parent / manifest.loc[1, "t1"])]
    quantifier = Quantifier({"depth": DepthScheme()}, RegistrationSettings(), cache_dir=tmp_path / "cache",
                            reference_resolution=2)
    results, failures = quantify_cohort(quantifier, manifest, manifest["wmh"].tolist(), progress=False)
    assert not failures
    bad, good = results
    assert not bad.registration_ok and bad.regions["wmh_ml"].isna().all()
    assert bad.wmh_total_ml > 0 and math.isnan(bad.icv_ml)
    assert "registration failed" in bad.registrations.loc[0, "reason"]
    assert good.registration_ok and good.regions["wmh_ml"].notna().all()
    wide = wide_table(manifest, results)
    assert wide["registration_ok"].tolist() == [False, True]
    assert wide.filter(like="wmh_ml__depth__").iloc[0].isna().all()


def test_masks_resolve_from_reference_or_predictions(tmp_path):
    manifest = pd.DataFrame({"subject_id": ["a", "b"], "session": ["1", "1"], "wmh": ["/x/a.nii.gz", None]})
    with pytest.raises(ManifestError, match=r"b/1\): no wmh mask"):
        resolve_masks(manifest, "reference")
    (tmp_path / "a/1").mkdir(parents=True)
    (tmp_path / "a/1/wmh_mask.nii.gz").write_bytes(b"x")
    (tmp_path / "elsewhere.nii.gz").write_bytes(b"x")
    with pytest.raises(ManifestError, match="predicted mask not found"):
        resolve_masks(manifest, str(tmp_path))
    pd.DataFrame({"subject_id": ["b"], "session": ["1"], "mask": ["elsewhere.nii.gz"]}).to_csv(
        tmp_path / "predictions.csv", index=False)
    assert resolve_masks(manifest, str(tmp_path)) == [str(tmp_path / "a/1/wmh_mask.nii.gz"),
                                                      str(tmp_path / "elsewhere.nii.gz")]


@pytest.mark.realdata
def test_identity_quantification_of_patient19_equals_direct_counting(shared_data, tmp_path):
    folder = shared_data / "open_ms/patient19"
    jhu = shared_data / "atlases/jhu_icbm_dti81/labels.nii.gz"
    scheme = AtlasScheme(str(jhu), "jhu_icbm_dti81_labels.tsv", str(shared_data / "templates/MNI152_T1_1mm_brain.nii.gz"))
    quantifier = Quantifier({"jhu": scheme}, RegistrationSettings(method="identity"), cache_dir=tmp_path,
                            reference_resolution=2)
    row = {"subject_id": "patient19", "session": "1", "flair": str(folder / "FLAIR.nii.gz"), "t1": str(folder / "T1.nii.gz")}
    result = quantify_cohort(quantifier, pd.DataFrame([row]), [str(folder / "lesions.nii.gz")], progress=False)[0][0]
    lesions = np.asarray(nib.load(folder / "lesions.nii.gz").dataobj) == 1
    direct = np.bincount(np.asarray(nib.load(jhu).dataobj).astype(int)[lesions], minlength=49)[1:]
    counted = np.rint(result.regions["wmh_ml"].to_numpy() * 1000).astype(int)
    assert result.regions["label"].tolist() == list(range(1, 49))
    assert np.array_equal(counted, direct) and direct.sum() > 10000
    assert result.wmh_total_ml == pytest.approx(lesions.sum() / 1000)


def test_bullseye_from_subject_space_freesurfer_labels(cohort, tmp_path):
    """An aparc+aseg-like image in scanner space (built here from the reference maps) drives the lobes,
    ventricles, cortex and white matter of the bullseye scheme."""
    from wmhmap.regions.reference import reference_anatomy

    reference = reference_anatomy(2, tmp_path)
    dkt = {1: 28, 2: 29, 3: 30, 4: 11}      # superior frontal, superior parietal, superior temporal, lateral occipital
    aseg = np.zeros(reference.brain.shape, np.int32)
    right = reference.right.astype(np.int32)
    aseg[reference.wm > 0.5] = np.where(right, 41, 2)[reference.wm > 0.5]
    cortex = reference.cortex & (reference.lobes > 0)
    aseg[cortex] = (1000 + 1000 * right + np.vectorize(dkt.get)(np.maximum(reference.lobes, 1)))[cortex]
    aseg[reference.deep_gm] = np.where(right, 49, 10)[reference.deep_gm]
    aseg[reference.ventricles] = np.where(right, 43, 4)[reference.ventricles]
    for sid in ("sub1", "sub2"):
        nib.save(nib.Nifti1Image(aseg, reference.affine), tmp_path / f"{sid}_aparc+aseg.nii.gz")
    manifest = pd.read_csv(cohort, dtype={"session": str}).iloc[:1]
    for column in ("flair", "t1", "wmh"):
        manifest[column] = manifest[column].map(lambda p: str(cohort.parent / p))
    scheme = BullseyeScheme(subject_labels=str(tmp_path / "{subject_id}_aparc+aseg.nii.gz"))
    quantifier = Quantifier({"bullseye": scheme}, RegistrationSettings(method="identity"), cache_dir=tmp_path,
                            reference_resolution=2)
    result = quantify_cohort(quantifier, manifest, manifest["wmh"].tolist(), progress=False)[0][0]
    table = result.regions.set_index("region")
    assert table["wmh_ml"].sum() == pytest.approx(result.wmh_total_ml)
    assert table.loc["frontal_shell1_right", "region_ml"] > 0 and table.loc["occipital_shell4_left", "region_ml"] > 0
    shell_volume = [table.filter(like=f"shell{k}", axis=0)["region_ml"].sum() for k in (1, 2, 3, 4)]
    assert all(v > 0 for v in shell_volume)
