"""Prediction: outputs on the input's own grid (non-RAS, oblique, anisotropic), TTA and ensembles,
batch mode that skips finished subjects, writes atomically and reports bad subjects."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import torch

from wmhmap.cli.common import compose_stage
from wmhmap.errors import InputError
from wmhmap.inference import Predictor, PredictorSettings
from wmhmap.inference.batch import predict_manifest
from wmhmap.inference.predictor import mirror_axes_sets, remove_small_lesions
from wmhmap.inference.stage import run_predict
from wmhmap.preprocessing import PreprocessConfig


def _oblique_las_affine(spacing: tuple[float, float, float]) -> np.ndarray:
    """LAS axes, rotated 12 degrees about z and 7 about x, anisotropic voxels."""
    a, b = np.deg2rad(12), np.deg2rad(7)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    affine = np.eye(4)
    affine[:3, :3] = rz @ rx @ np.diag([-1, 1, 1]) @ np.diag(spacing)
    affine[:3, 3] = [40.0, -30.0, -20.0]
    return affine


def _subject(folder: Path, spacing=(1.0, 1.0, 3.0)) -> tuple[Path, np.ndarray]:
    """A FLAIR with an ellipsoid 'brain' at 100 and an off-centre bright blob at 300; returns (path, blob)."""
    shape = (40, 36, 14)
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), -1).astype(float)
    brain = (((grid - [20, 18, 7]) / [17, 15, 6]) ** 2).sum(-1) <= 1
    blob = (((grid - [26, 12, 8]) / [3, 2.5, 1.2]) ** 2).sum(-1) <= 1
    flair = np.where(brain, 100.0, 0.0) + np.where(blob, 200.0, 0.0)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sub_FLAIR.nii.gz"
    nib.save(nib.Nifti1Image(flair.astype(np.float32), _oblique_las_affine(spacing)), path)
    return path, blob


def _threshold_checkpoint(path: Path, target_spacing=None) -> Path:
    """A 1x1x1 convolution that calls WMH where the z-scored FLAIR exceeds 3, saved as a wmhmap checkpoint."""
    conv = torch.nn.Conv3d(1, 2, 1)
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()
        conv.weight[1, 0] = 10.0
        conv.bias[1] = -30.0
    preprocessing = PreprocessConfig(target_spacing=target_spacing, modalities=("flair",), brain_mask="compute")
    torch.save(
        {
            "state_dict": {f"net.{k}": v for k, v in conv.state_dict().items()},
            "wmhmap": {
                "net": {"_target_": "torch.nn.Conv3d", "in_channels": 1, "out_channels": 2, "kernel_size": 1},
                "patch_size": [16, 16, 8],
                "preprocessing": preprocessing.to_dict(),
            },
        },
        path,
    )
    return path


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2 * (a & b).sum() / (a.sum() + b.sum())


def test_mirror_sets_and_small_lesion_removal() -> None:
    assert mirror_axes_sets([0, 1, 2]) == [(), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2), (0, 1, 2)]
    assert mirror_axes_sets([]) == [()]
    mask = np.zeros((8, 8, 8), bool)
    mask[0, 0, 0] = True
    mask[4:6, 4:6, 4:6] = True
    mask[6, 6, 6] = True  # touches the cube diagonally: same 26-connected lesion
    kept = remove_small_lesions(mask, 3)
    assert not kept[0, 0, 0] and kept[6, 6, 6] and kept.sum() == 9


def test_prediction_overlays_a_non_ras_oblique_anisotropic_input_exactly(tmp_path: Path) -> None:
    flair, blob = _subject(tmp_path / "in")
    checkpoint = _threshold_checkpoint(tmp_path / "a.ckpt")
    predictor = Predictor([checkpoint], PredictorSettings(tta_axes=(0, 1, 2), sw_batch_size=2))
    prediction = predictor.predict({"subject_id": "s", "session": "1", "flair": str(flair)})
    source = nib.load(flair)
    assert prediction.mask.shape == source.shape
    np.testing.assert_allclose(prediction.mask.affine, source.affine, atol=1e-6)
    assert nib.aff2axcodes(prediction.mask.affine) == nib.aff2axcodes(source.affine)
    assert np.array_equal(np.asarray(prediction.mask.dataobj).astype(bool), blob)
    prob = np.asarray(prediction.probability.dataobj)
    assert prob.dtype == np.float32 and 0 < prob[blob].min() and prob.max() <= 1
    assert len(np.unique(prob)) > 2  # a probability map, not a rounded mask
    assert prediction.volume_ml == pytest.approx(blob.sum() * 3.0 / 1000)


def test_resampled_prediction_comes_back_on_the_native_grid(tmp_path: Path) -> None:
    flair, blob = _subject(tmp_path / "in")
    checkpoint = _threshold_checkpoint(tmp_path / "b.ckpt", target_spacing=[1.5, 1.5, 1.5])
    prediction = Predictor([checkpoint], PredictorSettings(tta_axes=())).predict(
        {"subject_id": "s", "session": "1", "flair": str(flair)}
    )
    assert prediction.mask.shape == blob.shape
    np.testing.assert_allclose(prediction.mask.affine, nib.load(flair).affine, atol=1e-6)
    assert _dice(np.asarray(prediction.mask.dataobj).astype(bool), blob) > 0.8


def test_ensemble_needs_one_preprocessing(tmp_path: Path) -> None:
    a = _threshold_checkpoint(tmp_path / "a.ckpt")
    b = _threshold_checkpoint(tmp_path / "b.ckpt", target_spacing=[2.0, 2.0, 2.0])
    with pytest.raises(ValueError, match="other preprocessing"):
        Predictor([a, b])
    with pytest.raises(InputError, match="checkpoint not found"):
        Predictor([tmp_path / "missing.ckpt"])


def test_batch_skips_done_subjects_reports_bad_ones_and_leaves_no_temp_files(tmp_path: Path) -> None:
    good, _ = _subject(tmp_path / "a")
    bad = tmp_path / "b" / "sub_FLAIR.nii.gz"
    bad.parent.mkdir()
    bad.write_bytes(b"not a nifti")
    frame = pd.DataFrame([
        {"subject_id": "good", "session": "1", "site": "X", "flair": str(good)},
        {"subject_id": "bad", "session": "1", "site": "X", "flair": str(bad)},
    ])
    predictor = Predictor([_threshold_checkpoint(tmp_path / "m.ckpt")], PredictorSettings(tta_axes=()))
    out = tmp_path / "out"
    first = predict_manifest(frame, predictor, out, progress=False)
    assert [f[0] for f in first.failures] == ["bad"] and "sub_FLAIR.nii.gz" in first.failures[0][2]
    assert first.table["status"].tolist() == ["predicted"]
    assert (out / "good" / "1" / "wmh_mask.nii.gz").is_file() and (out / "good" / "1" / "wmh_prob.nii.gz").is_file()
    assert (out / "failures.csv").is_file()
    assert not [p for p in out.rglob(".*") if p.is_file()]  # no temporary files left behind
    again = predict_manifest(frame.iloc[:1], predictor, out, progress=False)
    assert again.table["status"].tolist() == ["skipped (done)"]
    assert again.table["predicted_wmh_ml"].tolist() == first.table["predicted_wmh_ml"].tolist()
    redo = predict_manifest(frame.iloc[:1], predictor, out, overwrite=True, progress=False)
    assert redo.table["status"].tolist() == ["predicted"]
    table = pd.read_csv(out / "predictions.csv")
    assert table.loc[0, "mask"] == "good/1/wmh_mask.nii.gz"


def test_predict_stage_on_one_image_exits_non_zero_on_failure(tmp_path: Path) -> None:
    flair, _ = _subject(tmp_path / "in")
    checkpoint = _threshold_checkpoint(tmp_path / "m.ckpt")
    cfg = compose_stage("predict", [f"input.flair={flair}", f"checkpoints=[{checkpoint}]", "inference.tta_axes=[0]",
                                    f"paths.output_dir={tmp_path}", "tracking.mode=disabled"], tmp_path / "run")
    result = run_predict(cfg, tmp_path / "run")
    assert len(result.table) == 1 and (tmp_path / "run" / "predictions" / "predictions.csv").is_file()
    cfg = compose_stage("predict", [f"input.flair={tmp_path / 'nope.nii.gz'}", f"checkpoints=[{checkpoint}]",
                                    "tracking.mode=disabled"], tmp_path / "run2")
    with pytest.raises(SystemExit) as exit_info:
        run_predict(cfg, tmp_path / "run2")
    assert exit_info.value.code == 1
