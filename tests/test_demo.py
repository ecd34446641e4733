"""The stages chained as in `make demo`: train a tiny model, predict the synthetic test split,
evaluate it, and check the tables and plots each stage leaves."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import pandas as pd

from wmhmap.data.manifest import read_manifest


def test_demo_chain_writes_every_stage_output(tiny_demo: Path, tiny_cohort: Path) -> None:
    manifest = read_manifest(tiny_cohort / "synthetic" / "manifest.csv")
    test_rows = manifest[manifest["split"] == "test"]

    assert (tiny_demo / "train" / "checkpoints" / "best.ckpt").is_file()
    assert (tiny_demo / "train" / "csv" / "metrics.csv").is_file()

    predictions = pd.read_csv(tiny_demo / "predict" / "predictions" / "predictions.csv")
    assert sorted(zip(predictions.subject_id, predictions.session, strict=True)) == sorted(
        zip(test_rows.subject_id, test_rows.session, strict=True))
    for row in test_rows.itertuples():
        mask = nib.load(tiny_demo / "predict" / "predictions" / row.subject_id / row.session / "wmh_mask.nii.gz")
        flair = nib.load(row.flair)
        assert mask.shape == flair.shape and (abs(mask.affine - flair.affine) < 1e-4).all()

    per_subject = pd.read_csv(tiny_demo / "evaluate" / "per_subject.csv")
    assert len(per_subject) == len(test_rows)
    assert {"dice", "hd95", "avd", "recall", "f1", "site"} <= set(per_subject.columns)
    assert per_subject["dice"].between(0, 1).all()
    for name in ("summary.csv", "summary.md", "agreement.csv", "bland_altman.png", "volume_scatter.png"):
        assert (tiny_demo / "evaluate" / name).is_file(), name
    summary = (tiny_demo / "demo_summary.md").read_text()
    assert "Segmentation" in summary and "| evaluate" in summary


def test_demo_quantifies_reference_and_predicted_masks(tiny_demo: Path, tiny_cohort: Path) -> None:
    manifest = read_manifest(tiny_cohort / "synthetic" / "manifest.csv")
    n_test = int((manifest["split"] == "test").sum())
    for step in ("quantify", "quantify_predicted"):
        features = pd.read_csv(tiny_demo / step / "features.csv")
        assert len(features) == n_test
        regional = [c for c in features.columns if c.startswith("wmh_ml__builtin__")]
        assert regional and {"wmh_total_ml", "icv_ml", "vol_ml__lateral_ventricles"} <= set(features.columns)
        ok = features[features["registration_ok"]]
        # Regions partition the lesion load (within a voxel's rounding) wherever registration passed QC.
        assert (ok[regional].sum(axis=1) <= ok["wmh_total_ml"] + 1e-6).all()
    reference = pd.read_csv(tiny_demo / "quantify" / "features.csv").set_index(["subject_id", "session"])
    truth = pd.read_csv(tiny_cohort / "synthetic" / "truth.csv").set_index(["subject_id", "session"])
    joined = reference.join(truth, rsuffix="_truth", how="inner")
    assert len(joined) == n_test
    assert abs(joined["wmh_total_ml"] - joined["wmh_ml"]).max() < 0.05
