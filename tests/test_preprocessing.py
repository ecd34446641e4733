"""Preprocessing: orientation, resampling, brain mask, z-score, crop, the cache and the way back to native."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

import wmhmap.preprocessing.cache as cache_module
from wmhmap.cli.common import CONF_DIR
from wmhmap.errors import GeometryError, WmhmapError
from wmhmap.preprocessing import (
    PreprocessCache,
    PreprocessConfig,
    median_spacing,
    preprocess_config,
    preprocess_manifest,
    preprocess_subject,
    to_native,
)
from wmhmap.preprocessing.brain_mask import compute_brain_mask, fill_holes, largest_component, otsu_threshold
from wmhmap.preprocessing.crop import bounding_box, crop_affine, margin_voxels
from wmhmap.preprocessing.normalise import zscore_within_mask
from wmhmap.preprocessing.orientation import oriented_spacing
from wmhmap.preprocessing.resample import resample_onto, resample_to_spacing, resampled_grid

SHAPE = (20, 24, 16)


def _rotation(degrees_x: float, degrees_z: float) -> np.ndarray:
    ax, az = np.radians(degrees_x), np.radians(degrees_z)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ rx


def _affine(kind: str, spacing: tuple[float, float, float], shape: tuple[int, int, int]) -> np.ndarray:
    """A world-centred affine: LAS, or oblique with voxel axes roughly Posterior, Superior, Right."""
    axes = {"LAS": np.diag([-1.0, 1.0, 1.0]), "PSR": np.array([[0, 0, 1.0], [-1.0, 0, 0], [0, 1.0, 0]])}
    linear = axes["LAS" if kind == "LAS" else "PSR"] @ np.diag(spacing)
    if kind == "oblique":
        linear = _rotation(12, -20) @ linear
    affine = np.eye(4)
    affine[:3, :3] = linear
    affine[:3, 3] = -linear @ ((np.asarray(shape) - 1) / 2)
    return affine


def _world(affine: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """World coordinates (mm) of every voxel centre, shape (X, Y, Z, 3)."""
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1).astype(float)
    return grid @ affine[:3, :3].T + affine[:3, 3]


def _phantom(tmp_path: Path, kind: str = "LAS", spacing=(1.0, 1.0, 1.0), shape=SHAPE, name: str = "s1",
             brain_radius: float = 5.5, lesion_radius: float = 2.6, seed: int = 0) -> tuple[dict, np.ndarray]:
    """A skull-stripped sphere 'brain' (FLAIR, T1, mask) with a lesion blob (1) and a label-2 spot."""
    affine = _affine(kind, spacing, shape)
    world = _world(affine, shape)
    brain = np.linalg.norm(world, axis=-1) <= brain_radius
    lesion = np.linalg.norm(world - [2.0, 1.0, 0.0], axis=-1) <= lesion_radius
    other = np.linalg.norm(world - [-3.0, -2.0, 1.0], axis=-1) <= 1.0
    rng = np.random.default_rng(seed)
    flair = np.where(brain, 100 + 10 * rng.standard_normal(shape) + 80 * lesion, 0).astype(np.float32)
    t1 = np.where(brain, 300 + 20 * rng.standard_normal(shape) - 50 * lesion, 0).astype(np.float32)
    label = (lesion & brain).astype(np.uint8) + 2 * (other & brain & ~lesion).astype(np.uint8)
    row = {"subject_id": name, "session": "1"}
    for column, data in (("flair", flair), ("t1", t1), ("wmh", label), ("brain_mask", brain.astype(np.uint8))):
        path = tmp_path / f"{name}_{column}.nii.gz"
        nib.save(nib.Nifti1Image(data, affine), str(path))
        row[column] = str(path)
    return row, affine


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(bool), b.astype(bool)
    return 2 * float((a & b).sum()) / float(a.sum() + b.sum())


def _data(path: str) -> np.ndarray:
    return np.asarray(nib.load(path).dataobj)


# ---------- maths on hand-computed cases ----------


def test_resampled_grid_is_centred_and_keeps_matching_axes() -> None:
    shape, affine, voxel_map = resampled_grid((10, 10, 7), np.diag([1.0, 1.0, 3.0, 1.0]), (2.0, 1.0, 3.0005))
    assert shape == (5, 10, 7)
    # new voxel 0 along x sits between old voxels 0 and 1: (10 - 1) / 2 - 2 * (5 - 1) / 2 = 0.5
    np.testing.assert_allclose(voxel_map[:3, 3], [0.5, 0.0, 0.0])
    np.testing.assert_allclose(np.diag(affine)[:3], [2.0, 1.0, 3.0])


def test_resample_to_spacing_returns_the_input_when_spacing_matches() -> None:
    array = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    affine = np.diag([1.0, 1.0, 1.0005, 1.0])
    out, out_affine = resample_to_spacing(array, affine, (1.0, 1.0, 1.0), order=1)
    assert out is array and out_affine is affine


def test_resample_onto_copies_exactly_across_flips_swaps_and_shifts() -> None:
    rng = np.random.default_rng(1)
    source = rng.random((4, 5, 6)).astype(np.float32)
    source_affine = np.array([[0, 0, -2.0, 10], [1.0, 0, 0, -3], [0, 1.5, 0, 4], [0, 0, 0, 1]])
    # target voxel (i, j, k) = source voxel (j + 1, k, 5 - i): a swap, a flip and a one-voxel shift
    target_affine = source_affine @ np.array([[0, 1, 0, 1], [0, 0, 1, 0], [-1, 0, 0, 5], [0, 0, 0, 1.0]])
    out = resample_onto(source, source_affine, (6, 4, 5), target_affine, order=1)
    expected = np.zeros((6, 4, 5), np.float32)
    for i, j, k in np.ndindex(6, 4, 5):
        if j + 1 < 4:
            expected[i, j, k] = source[j + 1, k, 5 - i]
    np.testing.assert_array_equal(out, expected)


def test_otsu_largest_component_and_fill_holes() -> None:
    assert 0 < otsu_threshold(np.r_[np.zeros(50), np.full(50, 10.0)]) < 10
    mask = np.zeros((7, 7, 7), bool)
    mask[1:6, 1:6, 1:6] = True
    mask[3, 3, 3] = False  # an enclosed hole
    mask[0, 0, 0] = True  # a separate speck
    core = largest_component(mask)
    assert not core[0, 0, 0] and core[1, 1, 1] and core.sum() == 124
    assert fill_holes(core).sum() == 125
    cup = np.zeros((5, 5, 5), bool)
    cup[:, :, 0] = cup[:, 0, :] = cup[:, -1, :] = cup[0] = cup[-1] = True  # open at the top
    assert (fill_holes(cup) == cup).all()


def test_bounding_box_margin_and_crop_affine() -> None:
    mask = np.zeros((10, 10, 10), bool)
    mask[3:5, 4, 6:8] = True
    assert margin_voxels(4.0, (1.0, 1.5, 3.0)) == (4, 3, 2)
    assert bounding_box(mask, (1, 2, 3)) == (slice(2, 6), slice(2, 7), slice(3, 10))
    np.testing.assert_allclose(crop_affine(np.diag([2.0, 1, 1, 1]), (2, 2, 3))[:3, 3], [4, 2, 3])
    with pytest.raises(ValueError, match="empty"):
        bounding_box(np.zeros((3, 3, 3)), (0, 0, 0))


def test_zscore_within_mask() -> None:
    volume = np.array([[[1.0, 3.0], [5.0, 100.0]]])
    mask = np.array([[[1, 1], [0, 0]]])
    np.testing.assert_allclose(zscore_within_mask(volume, mask), [[[-1.0, 1.0], [0.0, 0.0]]])
    with pytest.raises(ValueError, match="constant"):
        zscore_within_mask(np.ones((2, 2, 2)), np.ones((2, 2, 2)))


def test_oriented_spacing_follows_the_axes() -> None:
    affine = _affine("PSR", (1.0, 2.0, 0.8), SHAPE)  # voxel axes: posterior, superior, right
    np.testing.assert_allclose(oriented_spacing(affine, "RAS"), [0.8, 1.0, 2.0])


# ---------- config ----------


def test_default_yaml_mirrors_the_dataclass_and_variants_compose() -> None:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()  # another test may have left Hydra initialised
    default = OmegaConf.load(Path(CONF_DIR) / "preprocessing" / "default.yaml")
    assert set(default) == {f.name for f in dataclasses.fields(PreprocessConfig)}
    assert PreprocessConfig.from_dict(default) == PreprocessConfig()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        iso = compose(config_name="preprocessing/iso1mm").preprocessing
        native = compose(config_name="preprocessing/native").preprocessing
    assert PreprocessConfig.from_dict(iso).target_spacing == (1.0, 1.0, 1.0)
    assert PreprocessConfig.from_dict(native).target_spacing is None


def test_config_validation_and_round_trip() -> None:
    config = PreprocessConfig(target_spacing=1.5, modalities=["flair"], orientation="lps")
    assert config.target_spacing == (1.5, 1.5, 1.5) and config.orientation == "LPS"
    assert PreprocessConfig.from_dict(dataclasses.asdict(config)) == config
    assert PreprocessConfig.from_dict(config.to_dict()).fingerprint() == config.fingerprint()
    for bad in ({"orientation": "RAR"}, {"modalities": ["dwi"]}, {"brain_mask": "bet"}, {"target_spacing": [1, 2]},
                {"normalise": "minmax"}, {"crop_margin_mm": -1}, {"on_mismatch": "ignore"}):
        with pytest.raises(ValueError):
            PreprocessConfig.from_dict(bad)
    with pytest.raises(ValueError, match="unknown"):
        PreprocessConfig.from_dict({"spacing": 1})


# ---------- the pipeline and its inverse ----------


@pytest.mark.parametrize("kind", ["LAS", "oblique"])
@pytest.mark.parametrize("crop", [2.0, None])
def test_round_trip_without_resampling_is_voxel_exact(tmp_path: Path, kind: str, crop: float | None) -> None:
    row, affine = _phantom(tmp_path, kind, spacing=(1.2, 1.0, 0.9))
    config = PreprocessConfig(target_spacing=None, normalise="none", crop_margin_mm=crop)
    pre = preprocess_subject(row, config)
    assert nib.aff2axcodes(pre.affine) == ("R", "A", "S")
    assert pre.image.shape[0] == 2 and pre.image.dtype == np.float32
    if crop is None:
        assert sorted(pre.image.shape[1:]) == sorted(SHAPE)
    else:
        assert np.prod(pre.image.shape[1:]) < np.prod(SHAPE) / 2
    label = to_native(pre.label, pre, order=0)
    assert label.shape == SHAPE and label.get_data_dtype() == np.uint8
    np.testing.assert_array_equal(np.asarray(label.dataobj), _data(row["wmh"]))
    np.testing.assert_allclose(label.affine, affine, atol=1e-6)
    image = to_native(pre.image, pre, order=1)  # (C, X, Y, Z) -> (X, Y, Z, C), background 0 outside the crop
    np.testing.assert_array_equal(np.asarray(image.dataobj), np.stack([_data(row["flair"]), _data(row["t1"])], -1))
    mask = to_native(pre.brain_mask, pre, order=0)
    np.testing.assert_array_equal(np.asarray(mask.dataobj), _data(row["brain_mask"]))


@pytest.mark.parametrize("kind", ["LAS", "oblique"])
def test_round_trip_with_resampling_overlays_the_input(tmp_path: Path, kind: str) -> None:
    shape = (30, 28, 12)
    row, affine = _phantom(tmp_path, kind, spacing=(1.0, 1.0, 3.0), shape=shape, brain_radius=11, lesion_radius=6)
    pre = preprocess_subject(row, PreprocessConfig(target_spacing=1.5))
    np.testing.assert_allclose(pre.spacing, (1.5, 1.5, 1.5))
    # world coordinates are preserved: the lesion's centre stays where it was
    native_label = _data(row["wmh"]) == 1
    centre_native = _world(affine, shape)[native_label].mean(axis=0)
    centre_pre = _world(pre.affine, pre.label.shape)[pre.label == 1].mean(axis=0)
    assert np.linalg.norm(centre_native - centre_pre) < 1.0
    back = to_native(pre.label, pre, order=0)
    assert back.shape == shape
    np.testing.assert_allclose(back.affine, affine, atol=1e-6)
    assert _dice(np.asarray(back.dataobj) == 1, native_label) > 0.9
    probability = to_native((pre.label == 1).astype(np.float32), pre, order=1)
    assert probability.get_data_dtype() == np.float32
    assert _dice(np.asarray(probability.dataobj) >= 0.5, native_label) > 0.9


def test_crop_keeps_labels_outside_the_brain_mask(tmp_path: Path) -> None:
    row, affine = _phantom(tmp_path, "oblique")
    label = _data(row["wmh"])
    label[1, 2, 3] = 1  # far outside the brain sphere
    nib.save(nib.Nifti1Image(label, affine), row["wmh"])
    pre = preprocess_subject(row, PreprocessConfig(target_spacing=None, crop_margin_mm=0.0))
    np.testing.assert_array_equal(np.asarray(to_native(pre.label, pre).dataobj), label)


def test_zscore_inside_the_mask_and_zero_background(tmp_path: Path) -> None:
    row, _ = _phantom(tmp_path, "oblique")
    pre = preprocess_subject(row, PreprocessConfig(target_spacing=None))
    inside = pre.brain_mask > 0
    for channel in pre.image:
        assert abs(float(channel[inside].mean())) < 1e-5
        assert abs(float(channel[inside].std()) - 1) < 1e-5
        assert not channel[~inside].any()


def test_computed_brain_mask_recovers_a_sphere_in_noise() -> None:
    rng = np.random.default_rng(3)
    grid = np.stack(np.meshgrid(*[np.arange(n) - (n - 1) / 2 for n in (32, 32, 28)], indexing="ij"))
    sphere = np.linalg.norm(grid, axis=0) <= 10
    image = (20 * rng.standard_normal(sphere.shape) + 150 * sphere).astype(np.float32)
    image[sphere & (np.linalg.norm(grid, axis=0) <= 3)] = 10.0  # a dark 'ventricle' inside: filled
    assert _dice(compute_brain_mask(image), sphere) > 0.95
    zero_filled = np.where(sphere, image, 0).astype(np.float32)  # skull-stripped input: non-zero voxels
    assert _dice(compute_brain_mask(zero_filled[None]), sphere) > 0.99


def test_pipeline_computes_the_mask_when_none_is_given(tmp_path: Path) -> None:
    row, _ = _phantom(tmp_path, "LAS")
    given = _data(row.pop("brain_mask"))
    pre = preprocess_subject(row, PreprocessConfig(target_spacing=None, brain_mask="auto"))
    assert _dice(np.asarray(to_native(pre.brain_mask > 0, pre).dataobj), given) > 0.95


def test_clear_errors(tmp_path: Path) -> None:
    row, _ = _phantom(tmp_path, "LAS")
    with pytest.raises(WmhmapError, match="no t1 image"):
        preprocess_subject({**row, "t1": None}, PreprocessConfig(target_spacing=None))
    with pytest.raises(WmhmapError, match="brain_mask='given'"):
        preprocess_subject({**row, "brain_mask": float("nan")}, PreprocessConfig(target_spacing=None, brain_mask="given"))
    with pytest.raises(ValueError, match="median"):
        preprocess_subject(row, PreprocessConfig())
    other, _ = _phantom(tmp_path, "oblique", name="s2")
    with pytest.raises(GeometryError, match="not on the same grid") as err:
        preprocess_subject({**row, "t1": other["t1"]}, PreprocessConfig(target_spacing=None))
    assert "s1_flair" in str(err.value) and "s2_t1" in str(err.value)
    # by config, the mismatched T1 is resampled onto the FLAIR grid instead
    pre = preprocess_subject({**row, "t1": other["t1"]}, PreprocessConfig(target_spacing=None, on_mismatch="resample"))
    assert pre.image.shape[0] == 2
    # a T1 that is not requested is neither needed nor read
    pre = preprocess_subject({**row, "t1": "/nowhere/t1.nii.gz"}, PreprocessConfig(target_spacing=None, modalities=["flair"]))
    assert pre.image.shape[0] == 1


def test_median_spacing_of_mixed_spacings(tmp_path: Path) -> None:
    rows = []
    for i, (kind, spacing) in enumerate([("LAS", (1.0, 1.0, 3.0)), ("LAS", (1.2, 1.0, 3.0)), ("PSR", (1.0, 2.0, 0.8))]):
        path = tmp_path / f"f{i}.nii.gz"
        nib.save(nib.Nifti1Image(np.zeros((4, 5, 6), np.float32), _affine(kind, spacing, (4, 5, 6))), str(path))
        rows.append({"subject_id": f"s{i}", "session": "1", "flair": str(path)})
    manifest = pd.DataFrame(rows)
    # RAS axes: x = [1.0, 1.2, 0.8], y = [1, 1, 1], z = [3, 3, 2]
    assert median_spacing(manifest) == (1.0, 1.0, 3.0)
    assert preprocess_config({"target_spacing": "median"}, manifest).target_spacing == (1.0, 1.0, 3.0)


# ---------- the cache ----------


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts real preprocessing runs behind the cache."""
    calls: list[str] = []
    real = cache_module.preprocess_subject

    def counted(row, config, *args, **kwargs):
        calls.append(row["subject_id"])
        return real(row, config, *args, **kwargs)

    monkeypatch.setattr(cache_module, "preprocess_subject", counted)
    return calls


def test_cache_hits_misses_and_recovers_from_damage(tmp_path: Path, spy: list[str]) -> None:
    row, _ = _phantom(tmp_path, "LAS")
    config = PreprocessConfig(target_spacing=None)
    cache = PreprocessCache(tmp_path / "cache", config)
    first = cache.get(row)
    second = cache.get(row)
    assert spy == ["s1"]
    np.testing.assert_array_equal(first.image, second.image)
    np.testing.assert_array_equal(first.label, second.label)
    np.testing.assert_array_equal(first.affine, second.affine)
    np.testing.assert_array_equal(np.asarray(to_native(second.label, second).dataobj), _data(row["wmh"]))

    PreprocessCache(tmp_path / "cache", dataclasses.replace(config, crop_margin_mm=1.0)).get(row)
    assert len(spy) == 2 and len(list((tmp_path / "cache").glob("*.npz"))) == 2

    flair = nib.load(row["flair"])
    nib.save(nib.Nifti1Image(np.asarray(flair.dataobj) * 2, flair.affine), row["flair"])
    stat = os.stat(row["flair"])
    os.utime(row["flair"], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    cache.get(row)
    assert len(spy) == 3

    npz = cache.paths(row)[0]
    npz.write_bytes(b"\0" * npz.stat().st_size)  # same size, unreadable content
    repaired = cache.get(row)
    assert len(spy) == 4 and repaired.image.shape == first.image.shape
    npz.write_bytes(b"truncated")
    assert cache.lookup(row) is None
    cache.get(row)
    assert len(spy) == 5
    cache.get(row)
    assert len(spy) == 5


def test_preprocess_manifest_table_threads_and_errors(tmp_path: Path, spy: list[str]) -> None:
    rows = [_phantom(tmp_path, kind, name=f"s{i}", seed=i)[0] for i, kind in enumerate(["LAS", "oblique", "LAS"])]
    manifest = pd.DataFrame(rows)
    config = PreprocessConfig(target_spacing=None)
    table = preprocess_manifest(manifest, config, tmp_path / "cache", workers=2, progress=False)
    assert list(table["subject_id"]) == ["s0", "s1", "s2"] and sorted(spy) == ["s0", "s1", "s2"]
    assert all(Path(p).is_file() for p in table["cache_path"])
    pre = PreprocessCache(tmp_path / "cache", config).get(rows[0])
    assert table.loc[0, "brain_ml"] == pytest.approx(pre.brain_mask.sum() * pre.voxel_ml)
    assert table.loc[0, "wmh_ml"] == pytest.approx((pre.label == 1).sum() * pre.voxel_ml)
    assert list(table.loc[0, "shape"]) == list(pre.image.shape[1:])
    again = preprocess_manifest(manifest, config, tmp_path / "cache", progress=False)
    assert len(spy) == 3 and list(again["cache_path"]) == list(table["cache_path"])

    broken = manifest.copy()
    broken.loc[1, "t1"] = None
    broken.loc[2, "flair"] = str(tmp_path / "missing.nii.gz")
    with pytest.raises(WmhmapError, match="2 of 3") as err:
        preprocess_manifest(broken, dataclasses.replace(config, crop_margin_mm=2.0), tmp_path / "cache", progress=False)
    assert "s1/1" in str(err.value) and "s2/1" in str(err.value) and "missing.nii.gz" in str(err.value)


# ---------- real data ----------


@pytest.mark.realdata
def test_open_ms_lesions_round_trip_and_shared_brain_mask(shared_data: Path) -> None:
    patient = shared_data / "open_ms" / "patient19"
    mni_mask = shared_data / "templates" / "MNI152_T1_1mm_brain_mask.nii.gz"
    row = {"subject_id": "patient19", "session": "1", "flair": str(patient / "FLAIR.nii.gz"),
           "wmh": str(patient / "lesions.nii.gz"), "brain_mask": str(mni_mask)}
    lesions = nib.load(row["wmh"])
    assert nib.aff2axcodes(lesions.affine) == ("L", "A", "S")
    with pytest.raises(GeometryError, match="MNI152_T1_1mm_brain_mask"):
        preprocess_subject(row, PreprocessConfig(target_spacing=None, modalities=["flair"]))
    config = PreprocessConfig(target_spacing=None, modalities=["flair"], on_mismatch="resample")
    pre = preprocess_subject(row, config)
    assert nib.aff2axcodes(pre.affine) == ("R", "A", "S")
    back = to_native(pre.label, pre, order=0)
    np.testing.assert_array_equal(back.affine, lesions.affine)
    np.testing.assert_array_equal(np.asarray(back.dataobj), np.asarray(lesions.dataobj))
    # the RAS-stored mask lands on the FLAIR's LAS grid: the same world voxels, x flipped
    mask = np.asarray(to_native(pre.brain_mask, pre, order=0).dataobj)
    np.testing.assert_array_equal(mask, np.asarray(nib.load(mni_mask).dataobj)[::-1] > 0)
