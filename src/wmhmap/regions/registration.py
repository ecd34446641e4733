"""Subject-to-template registration with SimpleITK: rigid, similarity, then affine (Mattes mutual
information, multi-resolution shrink factors 4/2/1 with smoothing, on a 2 mm working copy), optionally
a B-spline refinement, or identity for images already in template space.

The estimated transform maps subject-space points to template space (the subject is the fixed
image), which is what resampling template labels onto the subject grid needs; labels come back with
nearest-neighbour interpolation. Transforms are cached on disk (``.tfm`` + a JSON sidecar with the QC
figures) under a key made of the subject image, the template and the settings, so a rerun reuses
them. QC: the final metric value and the determinant of the affine part; a registration whose metric
is worse (higher) than ``max_metric`` or whose determinant leaves [min, max] is flagged, not dropped.
The default ``max_metric`` (-0.08) was calibrated on the open_ms images (good affine fits to the
MNI152 templates, T1 or FLAIR: -0.20 to -0.44; images left misaligned: -0.01 to -0.05).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from wmhmap.io.atomic import atomic_path
from wmhmap.regions.grid import resample_to_grid, same_grid, to_sitk

__all__ = [
    "METHODS",
    "RegistrationSettings",
    "RegistrationResult",
    "registration_qc",
    "image_fingerprint",
    "TransformCache",
    "PreparedTemplate",
    "working_image",
    "prepare_template",
    "register",
    "propagate",
]

log = logging.getLogger(__name__)

METHODS = ("identity", "rigid", "affine", "bspline")
_CACHE_VERSION = 1


@dataclass(frozen=True)
class RegistrationSettings:
    """How to register; the last three fields are QC thresholds only (they do not change a transform).

    Both images are first resampled (after Gaussian anti-aliasing) to ``working_resolution_mm``
    (None: the subject's own grid); ``shrink_factors`` and ``smoothing_sigmas_mm`` then define the
    pyramid on top of it. Sampling is regular (deterministic) at ``sampling_percentages`` per level.
    """

    method: str = "affine"
    working_resolution_mm: float | None = 2.0
    shrink_factors: tuple[int, ...] = (4, 2, 1)
    smoothing_sigmas_mm: tuple[float, ...] = (4.0, 2.0, 1.0)
    sampling_percentages: tuple[float, ...] = (0.3, 0.15, 0.1)
    histogram_bins: int = 32
    iterations: int = 100
    learning_rate: float = 2.0
    bspline_grid_mm: float = 50.0
    bspline_iterations: int = 30
    bspline_sampling_percentage: float = 0.02
    seed: int = 42
    max_metric: float = -0.08
    min_determinant: float = 0.5
    max_determinant: float = 2.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"registration method {self.method!r} is not one of {METHODS}")
        # Hydra hands lists; keep the dataclass hashable and its cache key stable.
        for name in ("shrink_factors", "smoothing_sigmas_mm", "sampling_percentages"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        levels = {len(self.shrink_factors), len(self.smoothing_sigmas_mm), len(self.sampling_percentages)}
        if len(levels) != 1:
            raise ValueError("shrink_factors, smoothing_sigmas_mm and sampling_percentages need one value per level")

    def transform_fields(self) -> dict:
        """The settings that determine the transform (the cache key), without the QC thresholds."""
        fields = asdict(self)
        for name in ("max_metric", "min_determinant", "max_determinant"):
            fields.pop(name)
        return fields


@dataclass
class RegistrationResult:
    """A transform (subject points -> template points) with its QC figures."""

    transform: sitk.Transform
    method: str
    metric: float
    determinant: float
    ok: bool
    reason: str = ""
    cached: bool = False


def registration_qc(metric: float, determinant: float, settings: RegistrationSettings) -> tuple[bool, str]:
    """Whether a registration passes QC, and why not: metric above ``max_metric`` (Mattes MI is
    negative, lower is better) or affine determinant outside [min_determinant, max_determinant]."""
    problems = []
    if not math.isfinite(metric) or metric > settings.max_metric:
        problems.append(f"metric {metric:.4f} worse than {settings.max_metric}")
    if not math.isfinite(determinant) or not settings.min_determinant <= determinant <= settings.max_determinant:
        problems.append(
            f"affine determinant {determinant:.3f} outside [{settings.min_determinant}, {settings.max_determinant}]"
        )
    return not problems, "; ".join(problems)


def image_fingerprint(image: nib.Nifti1Image, data: np.ndarray | None = None) -> str:
    """A content hash of an image (shape, affine, voxel values): the same pixels give the same key."""
    array = np.ascontiguousarray(np.asarray(image.dataobj if data is None else data))
    digest = hashlib.sha1()
    digest.update(str((array.shape, str(array.dtype))).encode())
    digest.update(np.round(image.affine, 5).astype(np.float64).tobytes())
    digest.update(array.tobytes())
    return digest.hexdigest()


def _affine_part(transform: sitk.Transform) -> np.ndarray:
    """The 3x3 linear part of a (possibly composite: affine then B-spline) transform."""
    transform = transform.Downcast()
    if isinstance(transform, sitk.CompositeTransform):
        transform = transform.GetNthTransform(0).Downcast()
    if not hasattr(transform, "GetMatrix"):
        raise ValueError(f"cannot read a matrix from a {transform.GetName()}")
    return np.array(transform.GetMatrix()).reshape(3, 3)


def _determinant(transform: sitk.Transform) -> float:
    return float(np.linalg.det(_affine_part(transform)))


class TransformCache:
    """Transforms on disk, ``<folder>/<key>.tfm`` plus ``<key>.json`` (method, metric, determinant)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    @staticmethod
    def key(subject: str, template: str, settings: RegistrationSettings) -> str:
        """Cache key from the subject and template fingerprints and the transform-defining settings."""
        payload = json.dumps([_CACHE_VERSION, subject, template, settings.transform_fields()], sort_keys=True)
        return hashlib.sha1(payload.encode()).hexdigest()[:24]

    def load(self, key: str, settings: RegistrationSettings) -> RegistrationResult | None:
        """The cached result for ``key`` with QC re-judged under ``settings``, or None."""
        tfm, meta = self.folder / f"{key}.tfm", self.folder / f"{key}.json"
        if not (tfm.is_file() and meta.is_file()):
            return None
        try:
            info = json.loads(meta.read_text())
            transform = sitk.ReadTransform(str(tfm))
        except (OSError, ValueError, RuntimeError) as err:
            log.warning("ignoring unreadable cached transform %s (%s)", tfm, err)
            return None
        transform = transform.Downcast()
        ok, reason = registration_qc(info["metric"], info["determinant"], settings)
        return RegistrationResult(transform, info["method"], info["metric"], info["determinant"], ok, reason, cached=True)

    def save(self, key: str, result: RegistrationResult) -> Path:
        """Write ``result``'s transform and QC figures atomically; returns the ``.tfm`` path."""
        tfm = self.folder / f"{key}.tfm"
        with atomic_path(tfm) as tmp:
            sitk.WriteTransform(result.transform, str(tmp))
        with atomic_path(self.folder / f"{key}.json") as tmp:
            tmp.write_text(json.dumps({"method": result.method, "metric": result.metric,
                                       "determinant": result.determinant}, indent=1))
        return tfm


@dataclass(frozen=True)
class PreparedTemplate:
    """A template with its content fingerprint and its copy at the working resolution (made once per
    atlas, reused for every subject)."""

    image: nib.Nifti1Image
    working: nib.Nifti1Image
    fingerprint: str


def working_image(image: nib.Nifti1Image, resolution_mm: float | None, nearest: bool = False,
                  data: np.ndarray | None = None) -> nib.Nifti1Image:
    """``image`` (or ``data`` on its grid) resampled to isotropic ``resolution_mm`` over the same field of
    view, Gaussian anti-aliased first (labels/masks: nearest neighbour, no smoothing); None keeps it."""
    array = np.asarray(image.dataobj if data is None else data)
    if resolution_mm is None:
        return nib.Nifti1Image(array, image.affine)
    zooms = np.linalg.norm(image.affine[:3, :3], axis=0)
    factors = float(resolution_mm) / zooms
    affine = image.affine.copy()
    affine[:3, :3] = image.affine[:3, :3] * factors
    shape = tuple(max(1, int(np.ceil(n / f))) for n, f in zip(image.shape[:3], factors, strict=True))
    if not nearest:
        sigmas = [0.4 * f if f > 1 else 0.0 for f in factors]
        array = ndimage.gaussian_filter(array.astype(np.float32), sigmas)
    grid = nib.Nifti1Image(np.zeros(shape, np.uint8), affine)
    out = resample_to_grid(nib.Nifti1Image(array, image.affine), grid, sitk.AffineTransform(3), nearest)
    return nib.Nifti1Image(out, affine)


def prepare_template(template: nib.Nifti1Image, settings: RegistrationSettings) -> PreparedTemplate:
    """Fingerprint ``template`` and make its working-resolution copy."""
    return PreparedTemplate(template, working_image(template, settings.working_resolution_mm),
                            image_fingerprint(template))


def _registration_method(settings: RegistrationSettings, levels: slice, mask: sitk.Image | None) -> sitk.ImageRegistrationMethod:
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(settings.histogram_bins)
    method.SetMetricSamplingStrategy(method.REGULAR)
    method.SetMetricSamplingPercentagePerLevel(list(settings.sampling_percentages[levels]), settings.seed)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetShrinkFactorsPerLevel(list(settings.shrink_factors[levels]))
    method.SetSmoothingSigmasPerLevel(list(settings.smoothing_sigmas_mm[levels]))
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    if mask is not None:
        method.SetMetricFixedMask(mask)
    return method


def _linear_stage(fixed, moving, mask, settings: RegistrationSettings, initial: sitk.Transform,
                  levels: slice) -> tuple[sitk.Transform, float]:
    method = _registration_method(settings, levels, mask)
    method.SetOptimizerAsRegularStepGradientDescent(learningRate=settings.learning_rate, minStep=1e-3,
                                                    numberOfIterations=settings.iterations,
                                                    relaxationFactor=0.5, gradientMagnitudeTolerance=1e-8)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetInitialTransform(initial, inPlace=True)
    method.Execute(fixed, moving)
    return initial, float(method.GetMetricValue())


def _bspline_stage(fixed, moving, mask, settings: RegistrationSettings, affine: sitk.Transform) -> tuple[sitk.Transform, float]:
    # Mattes MI gradients cost per B-spline parameter, so this stage runs on the finest level only and
    # samples bspline_sampling_percentage of it (about 0.35 s per evaluation at 2 mm, 2 %).
    extent = np.array(fixed.GetSize()) * np.array(fixed.GetSpacing())
    mesh = [max(1, int(round(e / settings.bspline_grid_mm))) for e in extent]
    bspline = sitk.BSplineTransformInitializer(fixed, mesh, order=3)
    method = _registration_method(settings, slice(-1, None), mask)
    method.SetMetricSamplingPercentagePerLevel([settings.bspline_sampling_percentage], settings.seed)
    method.SetOptimizerAsLBFGSB(gradientConvergenceTolerance=1e-5, numberOfIterations=settings.bspline_iterations,
                                maximumNumberOfCorrections=5,
                                maximumNumberOfFunctionEvaluations=3 * settings.bspline_iterations,
                                costFunctionConvergenceFactor=1e7)
    method.SetMovingInitialTransform(affine)
    method.SetInitialTransform(bspline, inPlace=True)
    method.Execute(fixed, moving)
    return sitk.CompositeTransform([affine, bspline]), float(method.GetMetricValue())


def _identity_metric(fixed, moving, mask, settings: RegistrationSettings) -> float:
    method = _registration_method(settings, slice(-1, None), mask)
    method.SetInitialTransform(sitk.AffineTransform(3))
    return float(method.MetricEvaluate(fixed, moving))


def _copy_linear(source: sitk.Transform, target: sitk.Transform) -> sitk.Transform:
    target.SetCenter(source.GetCenter())
    target.SetMatrix(source.GetMatrix())
    target.SetTranslation(source.GetTranslation())
    return target


def _estimate(subject: nib.Nifti1Image, mask: np.ndarray | None, template: PreparedTemplate,
              settings: RegistrationSettings) -> tuple[sitk.Transform, float]:
    resolution = settings.working_resolution_mm
    fixed = to_sitk(working_image(subject, resolution))
    moving = to_sitk(template.working)
    fixed_mask = None
    if mask is not None:
        small = working_image(subject, resolution, nearest=True, data=np.asarray(mask, dtype=np.uint8))
        fixed_mask = to_sitk(small, dtype=np.uint8)
    if settings.method == "identity":
        return sitk.AffineTransform(3), _identity_metric(fixed, moving, fixed_mask, settings)
    initial = sitk.CenteredTransformInitializer(fixed, moving, sitk.Euler3DTransform(),
                                                sitk.CenteredTransformInitializerFilter.MOMENTS)
    if settings.method == "rigid":
        return _linear_stage(fixed, moving, fixed_mask, settings, sitk.Euler3DTransform(initial), slice(None))
    coarse = slice(None, -1) if len(settings.shrink_factors) > 1 else slice(None)
    rigid, _ = _linear_stage(fixed, moving, fixed_mask, settings, sitk.Euler3DTransform(initial), coarse)
    similarity, _ = _linear_stage(fixed, moving, fixed_mask, settings,
                                  _copy_linear(rigid, sitk.Similarity3DTransform()), slice(None))
    affine, metric = _linear_stage(fixed, moving, fixed_mask, settings,
                                   _copy_linear(similarity, sitk.AffineTransform(3)), slice(None))
    if settings.method == "affine":
        return affine, metric
    return _bspline_stage(fixed, moving, fixed_mask, settings, affine)


def register(
    subject: nib.Nifti1Image,
    template: nib.Nifti1Image | PreparedTemplate,
    settings: RegistrationSettings = RegistrationSettings(),
    subject_mask: np.ndarray | None = None,
    cache: TransformCache | None = None,
) -> RegistrationResult:
    """Register ``subject`` (fixed; its metric restricted to ``subject_mask`` when given) to ``template``.

    Stages: rigid (coarse levels), similarity (adds isotropic scale, which keeps a cross-modal fit
    from drifting) and affine, all Mattes MI with a regular-step gradient descent; ``bspline`` adds a
    B-spline refinement (L-BFGS-B on the finest level; slow, ~10-30 s). A failure inside SimpleITK
    (e.g. a blank image) is returned as a flagged result with an identity transform, never raised.
    With a ``cache``, a transform computed before for the same images and settings is reused (its QC
    re-judged under the current thresholds).
    """
    if not isinstance(template, PreparedTemplate):
        template = prepare_template(template, settings)
    key = None
    if cache is not None and settings.method != "identity":
        subject_key = image_fingerprint(subject)
        if subject_mask is not None:
            subject_key += image_fingerprint(subject, np.asarray(subject_mask, dtype=np.uint8))
        key = cache.key(subject_key, template.fingerprint, settings)
        hit = cache.load(key, settings)
        if hit is not None:
            return hit
    try:
        transform, metric = _estimate(subject, subject_mask, template, settings)
    except RuntimeError as err:
        lines = [line for line in str(err).strip().splitlines() if line.strip()]
        problem = lines[-1] if lines else type(err).__name__
        log.warning("registration failed: %s", problem)
        return RegistrationResult(sitk.AffineTransform(3), settings.method, math.nan, math.nan, False,
                                  f"registration failed: {problem}")
    determinant = _determinant(transform)
    # Identity is the user's statement that the images are in template space: the metric is recorded
    # for the QC report but does not flag the subject.
    ok, reason = (True, "") if settings.method == "identity" else registration_qc(metric, determinant, settings)
    result = RegistrationResult(transform, settings.method, metric, determinant, ok, reason)
    if key is not None:
        cache.save(key, result)
    return result


def propagate(
    result: RegistrationResult,
    source: nib.Nifti1Image,
    subject: nib.Nifti1Image,
    nearest: bool,
    data: np.ndarray | None = None,
) -> np.ndarray:
    """Template-space ``source`` (or ``data`` on its grid) brought onto ``subject``'s grid through
    ``result`` (nearest neighbour for labels, linear otherwise). An identity registration between
    identical grids returns the voxels unchanged, so counting on it equals direct counting."""
    if result.method == "identity" and same_grid(source, subject):
        array = np.asarray(source.dataobj if data is None else data)
        return np.rint(array).astype(np.int32) if nearest else array.astype(np.float32)
    return resample_to_grid(source, subject, result.transform, nearest, data)

