"""Volume agreement statistics on hand-computed vectors, and the evaluate stage end to end on a tiny cohort."""

from __future__ import annotations

import math
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from wmhmap.cli.common import CONF_DIR
from wmhmap.errors import InputError, WmhmapError
from wmhmap.evaluation.agreement import bland_altman, intraclass_correlations, volume_agreement
from wmhmap.evaluation.predictions import match_predictions
from wmhmap.evaluation.report import lesion_load_band, summarise
from wmhmap.evaluation.stage import run_evaluate, score_pairs

# --- agreement statistics --------------------------------------------------------------------------------


def test_perfect_line_correlates_one_and_identical_ratings_have_icc_one() -> None:
    reference = np.array([1.0, 2.0, 4.0, 7.0, 11.0])
    line = volume_agreement(reference, 2 * reference + 3)
    assert line["pearson_r"] == pytest.approx(1.0) and line["spearman_rho"] == pytest.approx(1.0)
    same = intraclass_correlations(reference, reference.copy())
    assert same["icc2_1"] == pytest.approx(1.0) and same["icc3_1"] == pytest.approx(1.0)


def test_icc_hand_computed_two_way_anova() -> None:
    # subjects x raters [[1, 2], [2, 4], [3, 3]], grand mean 2.5: SS_rows 3 (MS 1.5), SS_cols 1.5 (MS 1.5),
    # SS_total 5.5, SS_error 1 (MS 0.5). ICC(3,1) = (1.5 - 0.5) / (1.5 + 0.5) = 0.5;
    # ICC(2,1) = (1.5 - 0.5) / (1.5 + 0.5 + 2 (1.5 - 0.5) / 3) = 3 / 8
    icc = intraclass_correlations(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 3.0]))
    assert icc["icc3_1"] == pytest.approx(0.5)
    assert icc["icc2_1"] == pytest.approx(3 / 8)


def test_bland_altman_hand_computed() -> None:
    # differences (prediction - reference) [1, -1, 2, 2]: mean 1, SD sqrt(6 / 3) = sqrt 2
    limits = bland_altman(np.array([1.0, 3.0, 2.0, 5.0]), np.array([2.0, 2.0, 4.0, 7.0]))
    assert limits.mean_difference == pytest.approx(1.0)
    assert limits.sd_difference == pytest.approx(math.sqrt(2))
    assert limits.lower_limit == pytest.approx(1 - 1.96 * math.sqrt(2))
    assert limits.upper_limit == pytest.approx(1 + 1.96 * math.sqrt(2))


def test_agreement_drops_nan_pairs_and_needs_three_subjects() -> None:
    stats = volume_agreement(np.array([1.0, 2.0, np.nan, 4.0]), np.array([1.5, 2.5, 3.0, 4.5]))
    assert stats["n"] == 3 and stats["ba_mean_difference"] == pytest.approx(0.5)
    few = volume_agreement(np.array([1.0, 2.0]), np.array([1.0, 3.0]))
    assert math.isnan(few["pearson_r"]) and math.isnan(few["icc2_1"])
    assert few["ba_mean_difference"] == pytest.approx(0.5)


def test_lesion_load_bands_and_grouped_summary() -> None:
    bands = lesion_load_band([0.0, 4.99, 5.0, 20.0], [0, 5, 15, float("inf")], ["low", "medium", "high"])
    assert bands.tolist() == ["low", "low", "medium", "high"]
    with pytest.raises(ValueError, match="names"):
        lesion_load_band([1.0], [0, 5, 15], ["low"])
    table = pd.DataFrame({"site": ["A", "A", "B"], "dice": [0.5, 0.7, np.nan], "hd95": [1.0, 3.0, 2.0]})
    summary = summarise(table, by=("site",), columns=("dice", "hd95")).set_index("group")
    assert summary.at["all", "n"] == 3 and summary.at["all", "dice_mean"] == pytest.approx(0.6)
    assert summary.at["A", "dice_std"] == pytest.approx(math.sqrt(0.02))
    assert summary.at["B", "hd95_median"] == 2.0 and math.isnan(summary.at["B", "dice_mean"])


# --- predictions folder -----------------------------------------------------------------------------------


def test_predictions_csv_wins_over_the_folder_layout(tmp_path: Path) -> None:
    references = pd.DataFrame({"subject_id": ["a", "b", "c"], "session": ["1", "1", "1"], "site": ["X"] * 3,
                               "wmh": ["ra", "rb", "rc"]})
    (tmp_path / "elsewhere").mkdir()
    for name in ("a.nii.gz", "b.nii.gz"):
        (tmp_path / "elsewhere" / name).write_bytes(b"")
    (tmp_path / "predictions.csv").write_text(
        "subject_id,session,mask\na,1,elsewhere/a.nii.gz\nb,1,elsewhere/missing.nii.gz\n")
    pairs, missing = match_predictions(references, tmp_path)
    assert pairs["prediction"].tolist() == [str(tmp_path / "elsewhere" / "a.nii.gz")]
    assert missing["subject_id"].tolist() == ["b", "c"]
    assert "listed mask not found" in missing.at[0, "reason"] and "not listed" in missing.at[1, "reason"]
    (tmp_path / "predictions.csv").write_text("subject_id,mask\na,x\n")
    with pytest.raises(InputError, match="session"):
        match_predictions(references, tmp_path)


# --- the stage end to end ---------------------------------------------------------------------------------

AFFINE = np.diag([2.0, 2.0, 5.0, 1.0])  # 20 mm^3 = 0.02 mL per voxel
SHAPE = (20, 20, 10)


def _volume(*blocks: tuple[slice, slice, slice], value: float = 1, dtype: type = np.uint8) -> np.ndarray:
    data = np.zeros(SHAPE, dtype=dtype)
    for block in blocks:
        data[block] = value
    return data


def _save(path: Path, data: np.ndarray) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, AFFINE), str(path))
    return str(path)


def _cohort(root: Path) -> tuple[Path, Path]:
    """Five subjects on sites A and B; s5 has no prediction. Returns (manifest, predictions folder)."""
    s = np.s_
    second_lesion = s[12:15, 12:15, 5:7]
    references = {
        "s1": _volume(s[5:8, 5:8, 4:6]),                       # 18 voxels
        "s2": _volume(s[5:9, 5:9, 3:6]),                       # 48 voxels
        "s3": _volume(s[2:4, 2:4, 2:3], second_lesion),        # 4 + 18 voxels, two lesions
        "s4": _volume(s[8:12, 8:12, 4:6]),                     # 32 voxels, plus label 2 below
        "s5": _volume(s[3:6, 3:6, 3:5]),
    }
    references["s4"][15:18, 15:18, 2:4] = 2
    probability = _volume(s[8:12, 8:12, 4:6], s[15:18, 15:18, 2:4], value=0.9, dtype=np.float32)
    probability[0:3, 0:3, 0:2] = 0.3  # below threshold
    predictions = {
        "s1": references["s1"].copy(),                                  # perfect
        "s2": _volume(s[5:9, 5:7, 3:6]),                                # half of it: 24 voxels
        "s3": _volume(second_lesion, s[16:18, 2:4, 8:9]),               # one of two lesions + 4 false voxels
        "s4": probability,                                              # perfect once label 2 is removed
    }
    rows = []
    for i, (sid, labels) in enumerate(references.items()):
        rows.append({"subject_id": sid, "session": "1", "site": "A" if i < 3 else "B", "split": "test",
                     "flair": _save(root / "data" / sid / "flair.nii.gz", np.zeros(SHAPE, np.float32)),
                     "wmh": _save(root / "data" / sid / "wmh.nii.gz", labels)})
    for sid, mask in predictions.items():
        _save(root / "predictions" / sid / "1" / "wmh_mask.nii.gz", mask)
    manifest = root / "manifest.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return manifest, root / "predictions"


def _compose(overrides: list[str], run_dir: Path) -> DictConfig:
    """conf/evaluate.yaml as the command line would build it; the run directory given explicitly."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name="evaluate", overrides=[*overrides, f"paths.run_dir={run_dir}"])


def test_evaluate_stage_writes_tables_summaries_and_plots(tmp_path: Path) -> None:
    manifest, predictions = _cohort(tmp_path)
    run_dir = tmp_path / "run"
    cfg = _compose([f"manifest={manifest}", f"predictions={predictions}", "lesion_load.edges_ml=[0,0.4,inf]",
                    "lesion_load.names=[small,large]", "progress=false"], run_dir)
    result = run_evaluate(cfg, run_dir)

    per_subject = pd.read_csv(run_dir / "per_subject.csv", dtype={"session": str}).set_index("subject_id")
    assert sorted(per_subject.index) == ["s1", "s2", "s3", "s4"]
    expected_dice = {"s1": 1.0, "s2": 2 * 24 / 72, "s3": 2 * 18 / 44, "s4": 1.0}
    assert per_subject["dice"].to_dict() == pytest.approx(expected_dice)
    assert per_subject.at["s2", "hd95"] == pytest.approx(4.0)  # predicted half ends 2 columns (4 mm) short
    assert per_subject["avd"].to_dict() == pytest.approx({"s1": 0.0, "s2": 50.0, "s3": 0.0, "s4": 0.0})
    assert per_subject.at["s3", "recall"] == 0.5 and per_subject.at["s3", "f1"] == pytest.approx(0.5)
    assert per_subject["reference_ml"].to_dict() == pytest.approx({"s1": 0.36, "s2": 0.96, "s3": 0.44, "s4": 0.64})
    assert per_subject["prediction_ml"].to_dict() == pytest.approx({"s1": 0.36, "s2": 0.48, "s3": 0.44, "s4": 0.64})
    assert per_subject["reference_lesions"].to_dict() == {"s1": 1, "s2": 1, "s3": 2, "s4": 1}
    assert per_subject["lesion_load"].to_dict() == {"s1": "small", "s2": "large", "s3": "large", "s4": "large"}
    assert per_subject["site"].to_dict() == {"s1": "A", "s2": "A", "s3": "A", "s4": "B"}
    assert result.mean_dice == pytest.approx(np.mean(list(expected_dice.values())))

    skipped = pd.read_csv(run_dir / "skipped.csv")
    assert skipped["subject_id"].tolist() == ["s5"]

    summary = pd.read_csv(run_dir / "summary.csv").set_index(["grouping", "group"])
    assert summary.loc[("all", "all"), "n"] == 4
    assert summary.loc[("site", "A"), "dice_mean"] == pytest.approx((1 + 2 / 3 + 9 / 11) / 3)
    assert summary.loc[("site", "B"), "dice_median"] == pytest.approx(1.0)
    assert summary.loc[("lesion_load", "large"), "n"] == 3

    agreement = pd.read_csv(run_dir / "agreement.csv").set_index("group")
    ref_ml, pred_ml = np.array([0.36, 0.96, 0.44, 0.64]), np.array([0.36, 0.48, 0.44, 0.64])
    assert agreement.at["all", "n"] == 4
    assert agreement.at["all", "pearson_r"] == pytest.approx(np.corrcoef(ref_ml, pred_ml)[0, 1])
    assert agreement.at["all", "ba_mean_difference"] == pytest.approx(-0.12)
    assert math.isnan(agreement.at["B", "pearson_r"])  # one subject on site B

    markdown = (run_dir / "summary.md").read_text()
    assert "| site" in markdown and "s5" in markdown and "Volume agreement" in markdown
    for png in ("bland_altman.png", "volume_scatter.png"):
        assert (run_dir / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any(run_dir.glob("wandb/offline-run-*"))  # tracked offline inside the run directory


def test_strict_mode_refuses_a_missing_prediction(tmp_path: Path) -> None:
    manifest, predictions = _cohort(tmp_path)
    cfg = _compose([f"manifest={manifest}", f"predictions={predictions}", "strict=true", "tracking.mode=disabled",
                    "progress=false"], tmp_path / "run")
    with pytest.raises(WmhmapError, match="s5"):
        run_evaluate(cfg, tmp_path / "run")


def test_a_pair_on_another_grid_is_skipped_with_the_reason(tmp_path: Path) -> None:
    manifest, predictions = _cohort(tmp_path)
    nib.save(nib.Nifti1Image(np.zeros((20, 20, 9), np.uint8), AFFINE), str(predictions / "s2" / "1" / "wmh_mask.nii.gz"))
    cfg = _compose([f"manifest={manifest}", f"predictions={predictions}", "tracking.mode=disabled", "progress=false"],
                   tmp_path / "run")
    result = run_evaluate(cfg, tmp_path / "run")
    assert sorted(result.per_subject["subject_id"]) == ["s1", "s3", "s4"]
    reasons = result.skipped.set_index("subject_id")["reason"]
    assert "not on the same grid" in reasons["s2"] and "shape" in reasons["s2"]
    assert "s5" in reasons.index


def test_an_empty_reference_is_scored_with_a_note(tmp_path: Path) -> None:
    reference = _save(tmp_path / "empty_wmh.nii.gz", _volume())
    prediction = _save(tmp_path / "pred.nii.gz", _volume(np.s_[2:4, 2:4, 2:3]))
    pairs = pd.DataFrame([{"subject_id": "e1", "session": "1", "site": "A", "wmh": reference, "prediction": prediction}])
    scored, failures = score_pairs(pairs, progress=False)
    assert failures.empty and scored.at[0, "dice"] == 0.0 and math.isnan(scored.at[0, "hd95"])
    assert "empty_wmh.nii.gz" in scored.at[0, "notes"]
