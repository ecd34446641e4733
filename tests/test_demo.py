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
    assert sorted(zip(predictions.subject_id, predictions.session)) == sorted(zip(test_rows.subject_id, test_rows.session))
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
