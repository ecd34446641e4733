"""Registration (issue 5): QC rules, identity = direct counting, recovery of a known affine, failure
flags and the on-disk transform cache."""

from __future__ import annotations

import math

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from wmhmap.regions.grid import resample_to_grid
from wmhmap.regions.registration import (
    RegistrationResult,
    RegistrationSettings,
    TransformCache,
    propagate,
    register,
    registration_qc,
    working_image,
)
from wmhmap.regions.volumes import regional_volumes

SETTINGS = RegistrationSettings()


@pytest.mark.parametrize(
    ("metric", "determinant", "ok", "why"),
    [(-0.3, 1.2, True, ""), (-0.01, 1.0, False, "metric"), (-0.3, 2.5, False, "determinant"),
     (-0.3, 0.4, False, "determinant"), (math.nan, math.nan, False, "metric")],
)
def test_registration_qc_rules(metric, determinant, ok, why):
    passed, reason = registration_qc(metric, determinant, SETTINGS)
    assert passed is ok and why in reason


def test_settings_validate_method_and_levels():
    with pytest.raises(ValueError, match="method"):
        RegistrationSettings(method="syn")
    with pytest.raises(ValueError, match="one value per level"):
        RegistrationSettings(shrink_factors=(2, 1), smoothing_sigmas_mm=(1.0,), sampling_percentages=(0.1, 0.1))


@pytest.fixture(scope="module")
def patient19(shared_data):
    folder = shared_data / "open_ms/patient19"
    return nib.load(folder / "T1.nii.gz"), nib.load(folder / "lesions.nii.gz")


@pytest.fixture(scope="module")
def jhu(shared_data):
    return nib.load(shared_data / "atlases/jhu_icbm_dti81/labels.nii.gz")


@pytest.mark.realdata
def test_identity_registration_equals_direct_counting(patient19, jhu, shared_data):
    t1, lesions = patient19
    result = register(t1, nib.load(shared_data / "templates/MNI152_T1_1mm_brain.nii.gz"),
                      RegistrationSettings(method="identity"))
    assert result.ok and result.determinant == 1.0 and math.isfinite(result.metric)
    labels = propagate(result, jhu, t1, nearest=True)
    direct = np.asarray(jhu.dataobj).astype(np.int32)
    assert np.array_equal(labels, direct)
    wmh = np.asarray(lesions.dataobj) == 1
    table = regional_volumes(wmh, labels, {k: str(k) for k in range(1, 49)}, 0.001)
    counts = np.bincount(direct[wmh], minlength=49)[1:]
    assert np.array_equal(np.rint(table["wmh_ml"].to_numpy() * 1000).astype(int), counts)
    # The general resampling path is exact too: LAS labels onto the RAS-stored brain-mask grid.
    ras = nib.load(shared_data / "templates/MNI152_T1_1mm_brain_mask.nii.gz")
    assert np.array_equal(propagate(result, jhu, ras, nearest=True), direct[::-1])


def _known_affine() -> sitk.AffineTransform:
    """4, -3, 5 degrees of rotation, a few mm of shift, 3-5 % anisotropic scaling."""
    rotation = sitk.Euler3DTransform((0, -18, 18), np.deg2rad(4), np.deg2rad(-3), np.deg2rad(5), (3.0, -4.0, 2.5))
    transform = sitk.AffineTransform(3)
    transform.SetCenter((0, -18, 18))
    transform.SetMatrix((np.array(rotation.GetMatrix()).reshape(3, 3) @ np.diag([1.05, 0.96, 1.03])).ravel().tolist())
    transform.SetTranslation(rotation.GetTranslation())
    return transform


def _mean_dice(a: np.ndarray, b: np.ndarray) -> float:
    labels = [k for k in np.unique(b) if k > 0]
    return float(np.mean([2 * np.sum((a == k) & (b == k)) / (np.sum(a == k) + np.sum(b == k)) for k in labels]))


@pytest.fixture(scope="module")
def warped_3mm(patient19, jhu):
    """patient19's T1 and the JHU labels at 3 mm, and the T1 warped by a known affine."""
    template = working_image(patient19[0], 3.0)
    labels = working_image(jhu, 3.0, nearest=True)
    true = _known_affine()
    subject = nib.Nifti1Image(resample_to_grid(template, template, true, nearest=False), template.affine)
    truth = propagate(RegistrationResult(true, "affine", 0.0, 1.0, True), labels, subject, nearest=True)
    return template, labels, subject, truth


@pytest.mark.realdata
def test_known_affine_is_recovered_and_cached(warped_3mm, tmp_path):
    template, labels, subject, truth = warped_3mm
    cache = TransformCache(tmp_path)
    mask = np.asarray(subject.dataobj) > 0
    result = register(subject, template, SETTINGS, mask, cache)
    assert result.ok and not result.cached
    # Measured 0.978 (mean Dice of the 48 JHU labels through the estimated vs the true transform).
    assert _mean_dice(propagate(result, labels, subject, nearest=True), truth) > 0.9
    assert result.determinant == pytest.approx(1.05 * 0.96 * 1.03, abs=0.03)
    again = register(subject, template, SETTINGS, mask, cache)
    assert again.cached and np.allclose(again.transform.GetParameters(), result.transform.GetParameters())
    assert len(list(tmp_path.glob("*.tfm"))) == 1
    strict = register(subject, template, RegistrationSettings(max_metric=-10.0), mask, cache)
    assert strict.cached and not strict.ok and "metric" in strict.reason


@pytest.mark.realdata
def test_bspline_refinement_round_trips_through_the_cache(warped_3mm, tmp_path):
    template, labels, subject, truth = warped_3mm
    settings = RegistrationSettings(method="bspline", bspline_iterations=3, bspline_grid_mm=80.0)
    result = register(subject, template, settings, None, TransformCache(tmp_path))
    assert result.transform.GetName() == "CompositeTransform" and result.ok
    assert _mean_dice(propagate(result, labels, subject, nearest=True), truth) > 0.9
    cached = register(subject, template, settings, None, TransformCache(tmp_path))
    assert cached.cached
    assert np.array_equal(propagate(cached, labels, subject, nearest=True), propagate(result, labels, subject, nearest=True))


def test_blank_subject_is_flagged_not_raised():
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    blank = nib.Nifti1Image(np.zeros((20, 20, 20), np.float32), affine)
    grid = np.indices((20, 20, 20)) - 10
    template = nib.Nifti1Image((np.sqrt((grid**2).sum(0)) < 7).astype(np.float32), affine)
    result = register(blank, template, SETTINGS)
    assert not result.ok and result.reason.startswith("registration failed")
    assert math.isnan(result.metric)
