"""Unit tests of the training pieces: splits, patch sampling, losses, schedules, 2D wrapper."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torchio as tio
from monai.losses import DiceLoss

from wmhmap.models.losses import SegmentationLoss, num_classes
from wmhmap.models.schedules import warmup_cosine
from wmhmap.models.slicewise import Slicewise
from wmhmap.training.patches import PatchDataset, VolumeArrays, crop_padded, sample_center
from wmhmap.training.splits import FixedSplit, KFoldSplit, LeaveOneSiteOutSplit, OfficialSplit


def _manifest(n_subjects: int = 12, visits: int = 2) -> pd.DataFrame:
    rows = []
    for i in range(n_subjects):
        for v in range(visits if i % 3 == 0 else 1):
            rows.append({"subject_id": f"s{i:02d}", "session": str(v + 1), "site": "AB"[i % 2],
                         "split": "test" if i >= 10 else "train", "wmh": f"/x/{i}_{v}.nii.gz"})
    return pd.DataFrame(rows)


def test_kfold_keeps_visits_together_and_covers_the_pool_once() -> None:
    manifest = _manifest()
    seen = []
    for fold in range(5):
        split = KFoldSplit(n_folds=5, fold=fold, seed=0)(manifest)
        assert not set(split.train["subject_id"]) & set(split.val["subject_id"])
        assert set(split.val["split"]) == {"train"}
        seen.extend(split.val["subject_id"].unique())
    assert sorted(seen) == sorted(manifest.query("split == 'train'")["subject_id"].unique())


def test_kfold_rejects_bad_fold_and_too_few_subjects() -> None:
    with pytest.raises(ValueError, match="outside"):
        KFoldSplit(n_folds=5, fold=5)(_manifest())
    with pytest.raises(ValueError, match="cannot make"):
        KFoldSplit(n_folds=5, fold=0)(_manifest(3))


def test_leave_one_site_out_official_and_fixed() -> None:
    manifest = _manifest()
    loso = LeaveOneSiteOutSplit(site="B")(manifest)
    assert set(loso.val["site"]) == {"B"} and set(loso.train["site"]) == {"A"}
    assert LeaveOneSiteOutSplit(fold=0)(manifest).name == "loso_A"
    official = OfficialSplit()(manifest)
    assert set(official.val["split"]) == {"test"}
    fixed = FixedSplit(val_subjects=["s00", "s03"])(manifest)
    assert sorted(fixed.val["subject_id"].unique()) == ["s00", "s03"]
    assert len(fixed.val) == 4  # s00 and s03 have two visits each
    with pytest.raises(ValueError, match="not in the labelled pool"):
        FixedSplit(val_subjects=["nobody"])(manifest)


def test_crop_padded_pads_outside_the_array() -> None:
    array = np.arange(27, dtype=np.float32).reshape(1, 3, 3, 3) + 1
    out = crop_padded(array, (-1, 1, 2), (3, 3, 3))
    assert out.shape == (1, 3, 3, 3)
    assert np.all(out[0, 0] == 0)  # x = -1 lies outside
    assert out[0, 1, 0, 0] == array[0, 0, 1, 2]
    assert np.all(out[0, :, :, 1:] == 0)  # z = 3, 4 lie outside


def test_foreground_oversampling_rate() -> None:
    label = np.zeros((20, 20, 20), np.uint8)
    label[2, 2, 2] = 1
    volume = VolumeArrays.from_arrays("s", "1", np.zeros((1, 20, 20, 20), np.float32), label)
    rng = np.random.default_rng(0)
    hits = sum(tuple(sample_center(volume, rng, 0.33)) == (2, 2, 2) for _ in range(3000))
    assert 0.29 < hits / 3000 < 0.37


def test_patch_dataset_shapes_with_augmentation_on_a_padded_crop() -> None:
    label = np.zeros((24, 24, 24), np.uint8)
    label[10:14, 10:14, 10:14] = 1
    image = np.random.default_rng(0).normal(size=(2, 24, 24, 24)).astype(np.float32)
    volume = VolumeArrays.from_arrays("s", "1", image, label)
    transform = tio.Compose([tio.RandomFlip(axes=(0,)), tio.RandomAffine(degrees=10)])
    dataset = PatchDataset([volume], (16, 16, 8), length=4, foreground_probability=1.0, transform=transform, margin=4)
    item = dataset[0]
    assert item["image"].shape == (2, 16, 16, 8) and item["image"].dtype == torch.float32
    assert item["label"].shape == (1, 16, 16, 8) and item["label"].dtype == torch.int64
    assert set(item["label"].unique().tolist()) <= {0, 1}


def test_patches_are_reproducible_for_a_torch_seed() -> None:
    label = np.zeros((24, 24, 24), np.uint8)
    label[5, 5, 5] = 1
    volume = VolumeArrays.from_arrays("s", "1", np.random.default_rng(1).normal(size=(1, 24, 24, 24)).astype(np.float32), label)
    dataset = PatchDataset([volume], (8, 8, 8), length=2, transform=tio.RandomNoise(), margin=2)
    torch.manual_seed(3)
    a = dataset[0]["image"]
    torch.manual_seed(3)
    b = dataset[0]["image"]
    assert torch.equal(a, b)


def test_loss_ignores_label_2_voxels() -> None:
    torch.manual_seed(0)
    logits = torch.randn(1, 2, 4, 4, 4)
    target = torch.zeros(1, 1, 4, 4, 4, dtype=torch.long)
    target[0, 0, :2] = 1
    loss = SegmentationLoss(DiceLoss(include_background=False, batch=True), pixel="ce", label2="ignore")
    base = loss(logits, target)
    # Whatever the network predicts where the reference is 2 must not change the loss.
    target2 = target.clone()
    target2[0, 0, 3] = 2
    changed = logits.clone()
    changed[0, :, 3] = torch.tensor([-9.0, 9.0])[:, None, None]
    a, b = loss(logits, target2), loss(changed, target2)
    assert torch.isclose(a, b)
    assert not torch.isclose(base, a)


def test_loss_with_label_2_as_class_and_perfect_prediction() -> None:
    target = torch.zeros(1, 1, 4, 4, 4, dtype=torch.long)
    target[0, 0, 0] = 1
    target[0, 0, 1] = 2
    onehot = torch.nn.functional.one_hot(target[:, 0], 3).movedim(-1, 1).float()
    loss = SegmentationLoss(DiceLoss(include_background=False, batch=True), pixel="ce", label2="class")
    assert loss(onehot * 50, target).item() < 1e-4
    assert num_classes("class") == 3 and num_classes("ignore") == 2
    with pytest.raises(ValueError):
        num_classes("drop")


def test_focal_is_smaller_than_ce_on_easy_voxels() -> None:
    logits = torch.zeros(1, 2, 2, 2, 2)
    logits[:, 0] = 3.0
    target = torch.zeros(1, 1, 2, 2, 2, dtype=torch.long)
    ce = SegmentationLoss(None, pixel="ce")(logits, target)
    focal = SegmentationLoss(None, pixel="focal")(logits, target)
    assert 0 < focal < ce
    # Hand-computed: p = e^3 / (e^3 + 1); ce = -log p.
    p = np.exp(3) / (np.exp(3) + 1)
    assert ce.item() == pytest.approx(-np.log(p), rel=1e-5)
    assert focal.item() == pytest.approx((1 - p) ** 2 * -np.log(p), rel=1e-4)


def test_warmup_cosine_factors() -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = warmup_cosine(opt, warmup_epochs=2, max_epochs=6)
    lrs = []
    for _ in range(7):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.step()
    assert lrs[:3] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert lrs[4] == pytest.approx(0.5)
    assert lrs[6] == pytest.approx(0.0, abs=1e-12)


def test_slicewise_runs_a_2d_net_per_axial_slice() -> None:
    conv = torch.nn.Conv2d(2, 3, 3, padding=1)
    net = Slicewise(conv)
    x = torch.randn(2, 2, 8, 6, 5)
    out = net(x)
    assert out.shape == (2, 3, 8, 6, 5)
    assert torch.allclose(out[1, :, :, :, 4], conv(x[1:2, :, :, :, 4])[0], atol=1e-6)
