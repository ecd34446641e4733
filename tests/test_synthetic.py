"""The synthetic cohort: geometry per site, labels and masks, ground truth, reproducibility, effect directions."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from wmhmap.data.manifest import read_manifest, validate_manifest, write_manifest
from wmhmap.synthetic import generate_cohort
from wmhmap.synthetic.atrophy import AtrophyModel, atrophy_factors
from wmhmap.synthetic.cohort import build_model
from wmhmap.synthetic.contrast import mix_intensities
from wmhmap.synthetic.deform import AnatomyModel
from wmhmap.synthetic.design import allocate, split_by_site
from wmhmap.synthetic.lesion_load import LesionLoadModel, draw_lesion_latents, regional_targets
from wmhmap.synthetic.lesion_shapes import LesionShapeModel
from wmhmap.synthetic.sites import DEFAULT_SITES, as_sites, grid_affine, grid_shape
from wmhmap.synthetic.subject import VisitJob, render_visit, slab_samples
from wmhmap.synthetic.template import REGION_NAMES

CONF = Path(__file__).resolve().parents[1] / "conf" / "data" / "synthetic.yaml"
RESOLUTION = 4.0  # coarse grids keep the tests fast
SITES = {s.name: s for s in as_sites(DEFAULT_SITES)}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    out = tmp_path_factory.mktemp("synthetic")
    frame = generate_cohort(
        out, n_subjects=6, seed=3, resolution_mm=RESOLUTION, workers=1, montage_subjects=2, progress=False
    )
    return out, frame


def _job(**changes: object) -> VisitJob:
    job = VisitJob(
        seed=11,
        subject_index=0,
        visit_index=0,
        site=SITES["siteA"],
        sex="F",
        resolution_mm=RESOLUTION,
        template_resolution=2,
        targets_ml={"periventricular_anterior": 6.0, "periventricular_posterior": 6.0, "deep": 4.0},
        ventricle_dilation_mm=1.0,
        ventricle_decay_mm=10.0,
        gm_loss=0.05,
        has_other=True,
        anatomy=AnatomyModel(),
        shapes=LesionShapeModel(other_radius_mm=(5.0, 6.0)),
    )
    return dataclasses.replace(job, **changes)


def test_manifest_validates_and_is_marked_synthetic(
    cohort: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    out, frame = cohort
    checked = validate_manifest(frame)
    assert len(checked) == len(frame) >= 6
    assert frame["synthetic"].all()
    assert set(frame["diagnosis"]) == {"CN", "MCI", "AD"}
    assert set(frame["sex"]) <= {"F", "M"} and frame["age"].between(60, 95).all()
    assert all(
        Path(p).is_absolute() and Path(p).is_file()
        for c in ("flair", "t1", "wmh", "brain_mask")
        for p in frame[c]
    )
    assert (frame["flair"].map(lambda p: Path(p).parent.relative_to(out).parts)).map(len).eq(2).all()
    again = read_manifest(write_manifest(frame, tmp_path / "manifest.csv"))
    assert list(again["flair"]) == list(frame["flair"])
    assert "SYNTHETIC" in (out / "README.txt").read_text()
    assert (out / "montage.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_each_site_has_its_own_grid_and_orientation(cohort: tuple[Path, pd.DataFrame]) -> None:
    _, frame = cohort
    assert set(frame["site"]) == set(SITES)
    for row in frame.itertuples():
        site = SITES[row.site]
        shape, spacing = grid_shape(site, RESOLUTION)
        images = [nib.load(getattr(row, c)) for c in ("flair", "t1", "wmh", "brain_mask")]
        for image in images:
            assert image.shape == shape
            np.testing.assert_allclose(image.header.get_zooms(), spacing, rtol=1e-5)
            np.testing.assert_allclose(image.affine, images[0].affine)
            assert "".join(nib.aff2axcodes(image.affine)) == site.orientation
            assert b"SYNTHETIC" in image.header["descrip"].tobytes()
    thick = frame[frame["site"] == "siteB"]["flair"].iloc[0]
    np.testing.assert_allclose(nib.load(thick).header.get_zooms(), (4.0, 4.0, 12.0))


def test_images_are_skull_stripped_and_labels_lie_in_the_brain(cohort: tuple[Path, pd.DataFrame]) -> None:
    _, frame = cohort
    for row in frame.itertuples():
        mask = np.asarray(nib.load(row.brain_mask).dataobj)
        labels = np.asarray(nib.load(row.wmh).dataobj)
        assert labels.dtype == np.uint8 and mask.dtype == np.uint8
        assert set(np.unique(labels)) <= {0, 1, 2} and set(np.unique(mask)) == {0, 1}
        assert not np.any(labels[mask == 0])
        for column in ("flair", "t1"):
            image = np.asarray(nib.load(getattr(row, column)).dataobj)
            assert image.dtype == np.float32
            assert np.all(image[mask == 1] > 0) and np.all(image[mask == 0] == 0)


def test_truth_volumes_are_counted_on_the_saved_grids(cohort: tuple[Path, pd.DataFrame]) -> None:
    out, frame = cohort
    truth = pd.read_csv(out / "truth.csv")
    assert list(truth[["subject_id", "session"]].itertuples(index=False)) == list(
        frame[["subject_id", "session"]].itertuples(index=False)
    )
    assert truth["synthetic"].all()
    for row, true in zip(frame.itertuples(), truth.itertuples(), strict=True):
        image = nib.load(row.wmh)
        labels = np.asarray(image.dataobj)
        voxel_ml = float(np.prod(image.header.get_zooms())) / 1000.0
        assert true.wmh_ml == pytest.approx((labels == 1).sum() * voxel_ml, abs=1e-3)
        assert true.other_pathology_ml == pytest.approx((labels == 2).sum() * voxel_ml, abs=1e-3)
        regional = sum(getattr(true, f"wmh_ml_{name}") for name in REGION_NAMES.values())
        assert regional == pytest.approx(true.wmh_ml, abs=1e-3)
        mask = np.asarray(nib.load(row.brain_mask).dataobj)
        assert true.icv_ml == pytest.approx(mask.sum() * voxel_ml, abs=1e-3)
        assert 1100 < true.icv_ml < 2000 and 5 < true.ventricle_ml < 80


def test_visits_of_a_subject_share_site_and_split_and_age(cohort: tuple[Path, pd.DataFrame]) -> None:
    out, frame = cohort
    truth = pd.read_csv(out / "truth.csv")
    assert (frame.groupby("subject_id")[["split", "site", "diagnosis", "sex"]].nunique() == 1).all().all()
    assert set(frame["split"]) == {"train", "test"}
    repeated = truth.groupby("subject_id").filter(lambda g: len(g) > 1)
    assert len(repeated) > 0
    for _, visits in repeated.groupby("subject_id"):
        ordered = visits.sort_values("session")
        assert ordered["age"].is_monotonic_increasing and ordered["target_wmh_ml"].is_monotonic_increasing
        assert ordered["ventricle_dilation_mm"].is_monotonic_increasing


def test_lesions_sit_in_white_matter_with_the_right_contrast() -> None:
    images = render_visit(_job())
    lesion, other = images.labels == 1, images.labels == 2
    assert lesion.sum() > 20 and other.sum() > 0
    assert images.tissue["wm"][lesion].mean() > 0.6
    white = (images.tissue["wm"] > 0.9) & (images.labels == 0)
    assert images.flair[lesion].mean() > 1.3 * images.flair[white].mean()
    assert images.t1[lesion].mean() < 0.9 * images.t1[white].mean()
    csf = images.tissue["csf"] > 0.9
    assert (
        images.flair[csf].mean() < images.flair[white].mean() < images.flair[images.tissue["gm"] > 0.8].mean()
    )


def test_same_seed_same_arrays_and_another_seed_differs(tmp_path: Path) -> None:
    config = OmegaConf.create({"paths": {"data_dir": str(tmp_path)}, "data": OmegaConf.load(CONF)})
    kwargs = {
        "n_subjects": 2,
        "seed": 5,
        "resolution_mm": RESOLUTION,
        "montage_subjects": 0,
        "progress": False,
    }
    pooled = instantiate(config.data.reader, _convert_="all", workers=2, **kwargs)
    serial = generate_cohort(tmp_path / "again", workers=1, **kwargs)
    assert Path(pooled["flair"][0]).is_relative_to(tmp_path / "synthetic")
    for column in ("flair", "t1", "wmh", "brain_mask"):
        for a, b in zip(pooled[column], serial[column], strict=True):
            np.testing.assert_array_equal(np.asarray(nib.load(a).dataobj), np.asarray(nib.load(b).dataobj))
    other = render_visit(_job(seed=12))
    assert not np.array_equal(render_visit(_job()).flair, other.flair)


def test_atrophy_grows_with_age_and_diagnosis() -> None:
    model = AtrophyModel()
    young, old = atrophy_factors(65, "CN", 0.0, 0.0, model), atrophy_factors(85, "CN", 0.0, 0.0, model)
    assert old[0] > young[0] and old[1] > young[1]
    by_diagnosis = [atrophy_factors(75, d, 0.0, 0.0, model) for d in ("CN", "MCI", "AD")]
    assert by_diagnosis[0][0] < by_diagnosis[1][0] < by_diagnosis[2][0]
    assert by_diagnosis[0][1] < by_diagnosis[1][1] < by_diagnosis[2][1]
    volumes = [
        render_visit(_job(ventricle_dilation_mm=d, gm_loss=g, has_other=False)).truth
        for d, g in ((0, 0), (2, 0.1), (4, 0.2))
    ]
    assert volumes[0]["ventricle_ml"] < volumes[1]["ventricle_ml"] < volumes[2]["ventricle_ml"]
    assert volumes[0]["gm_ml"] > volumes[1]["gm_ml"] > volumes[2]["gm_ml"]


def test_location_carries_more_diagnostic_signal_than_total_load() -> None:
    model, rng = LesionLoadModel(), np.random.default_rng(0)
    summary = {}
    for diagnosis in ("CN", "MCI", "AD"):
        draws = [regional_targets(75.0, diagnosis, draw_lesion_latents(rng), model) for _ in range(3000)]
        total = np.array([sum(d.values()) for d in draws])
        anterior = np.array([d["periventricular_anterior"] for d in draws]) / total
        summary[diagnosis] = (np.log(total), anterior)
    assert summary["CN"][1].mean() < summary["MCI"][1].mean() < summary["AD"][1].mean()

    def effect(values: str) -> float:
        i = 0 if values == "total" else 1
        a, b = summary["AD"][i], summary["CN"][i]
        return (a.mean() - b.mean()) / np.sqrt((a.var() + b.var()) / 2)

    assert 0 < effect("total") < 0.5 < effect("anterior fraction")


def test_allocation_split_and_grid_geometry_by_hand() -> None:
    rng = np.random.default_rng(0)
    labels = allocate(rng, 10, {"CN": 0.4, "MCI": 0.3, "AD": 0.3})
    assert sorted(pd.Series(labels).value_counts().items()) == [("AD", 3), ("CN", 4), ("MCI", 3)]
    assert list(pd.Series(allocate(rng, 3, {"a": 0.9, "b": 0.1})).value_counts().sort_index()) == [3]
    split = split_by_site(rng, ["a"] * 8 + ["b"] * 4, 0.25)
    assert list(split[:8]).count("test") == 2 and list(split[8:]).count("test") == 1
    affine = grid_affine((3, 3, 3), np.array([1.0, 2.0, 3.0]), "LAS", np.zeros(3))
    np.testing.assert_allclose(affine[:3, :3], np.diag([-1.0, 2.0, 3.0]))
    np.testing.assert_allclose(affine @ [1, 1, 1, 1], [0, 0, 0, 1])
    offsets = slab_samples(np.array([2.0, 2.0, 6.0]), 2.0)
    np.testing.assert_allclose(offsets, [[0, 0, 0], [0, 0, 0], [-1 / 3, 0, 1 / 3]])


def test_mix_intensities_by_hand() -> None:
    levels = {"csf": 0.1, "gm": 0.8, "wm": 0.6, "wmh": 1.4, "other": 0.2}
    half = {k: np.array([v]) for k, v in {"csf": 0.0, "gm": 0.5, "wm": 0.5, "wmh": 0.5, "other": 0.0}.items()}
    # half lesion, half normal tissue (0.5 * 0.8 + 0.5 * 0.6 = 0.7): 0.5 * 0.7 + 0.5 * 1.4
    np.testing.assert_allclose(mix_intensities(half, levels), [1.05], rtol=1e-6)


def test_yaml_mirrors_every_default() -> None:
    reader = OmegaConf.to_container(OmegaConf.load(CONF).reader)
    parameters = inspect.signature(generate_cohort).parameters
    assert set(reader) - {"_target_"} == set(parameters)
    models = {
        "anatomy": AnatomyModel,
        "atrophy": AtrophyModel,
        "lesion_load": LesionLoadModel,
        "lesion_shapes": LesionShapeModel,
    }
    for name, parameter in parameters.items():
        if name in models:
            assert build_model(models[name], reader[name]) == models[name](), name
        elif name == "sites":
            assert as_sites(reader[name]) == as_sites(DEFAULT_SITES)
        elif name != "out_dir":
            default = parameter.default
            expected = (
                list(default)
                if isinstance(default, tuple)
                else dict(default)
                if name.endswith("fractions")
                else default
            )
            assert reader[name] == expected, name


def test_bad_parameters_name_the_problem() -> None:
    with pytest.raises(ValueError, match="unknown key.*colour"):
        as_sites([{**DEFAULT_SITES[0], "colour": "red"}])
    with pytest.raises(ValueError, match="spacing_mm"):
        as_sites([{**DEFAULT_SITES[0], "spacing_mm": [1.0, 0.0, 1.0]}])
    with pytest.raises(ValueError, match="AtrophyModel: unknown parameter"):
        build_model(AtrophyModel, {"ventricle_growth": 1.0})
    with pytest.raises(ValueError, match="diagnosis_region"):
        LesionLoadModel(diagnosis_region="frontal")
