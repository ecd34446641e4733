"""Region schemes, each built from config (``conf/atlas/*.yaml``) and turning one subject's anatomy into
a parcellation of its white matter on its own grid:

- :class:`AtlasScheme` / :class:`Eve34Scheme`: a template-space atlas (JHU ICBM-DTI-81, the seed
  paper's Eve WMPM-34, any user atlas) registered to the subject;
- :class:`BuiltinScheme`: hemisphere x approximate lobe x depth band from the built-in reference;
- :class:`DepthScheme`: periventricular / deep / juxtacortical (+ infratentorial) in subject space;
- :class:`BullseyeScheme`: lobes x four normalised-depth shells (Sudre et al. 2018).

Template-space labels come back by nearest neighbour and are restricted to the subject's white matter
(WMH voxels count as white matter)."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
import SimpleITK as sitk

from wmhmap.data.nifti import load_volume
from wmhmap.errors import InputError
from wmhmap.regions.atlas import Atlas, load_atlas, load_eve34_atlas, load_label_image
from wmhmap.regions.builtin import builtin_atlas
from wmhmap.regions.bullseye import bullseye_names, bullseye_parcellation
from wmhmap.regions.depth import DEPTH_BANDS, depth_bands, distance_mm
from wmhmap.regions.grid import resample_to_grid
from wmhmap.regions.lobes import (
    BASAL_GANGLIA_THALAMUS_LABELS,
    CEREBRAL_WM_LABELS,
    LOBES,
    VENTRICLE_LABELS,
    dkt_lobe_seeds,
    is_cortical_label,
)
from wmhmap.regions.reference import ReferenceAnatomy
from wmhmap.regions.registration import (
    PreparedTemplate,
    RegistrationResult,
    RegistrationSettings,
    TransformCache,
    prepare_template,
    propagate,
    register,
)
from wmhmap.regions.subject import SubjectAnatomy

__all__ = [
    "SchemeContext",
    "Parcellation",
    "Scheme",
    "AtlasScheme",
    "Eve34Scheme",
    "BuiltinScheme",
    "DepthScheme",
    "BullseyeScheme",
    "format_subject_path",
]

log = logging.getLogger(__name__)


@dataclass
class SchemeContext:
    """What every scheme may need besides the subject: registration settings, the transform cache, the
    built-in reference (its anatomy and prepared template) and template images prepared once per path
    (several atlases often share one template)."""

    settings: RegistrationSettings
    cache: TransformCache | None
    reference: ReferenceAnatomy
    reference_template: PreparedTemplate
    templates: dict[str, PreparedTemplate] = field(default_factory=dict)

    def template(self, path: str | Path) -> PreparedTemplate:
        """The template image at ``path``, loaded and prepared for registration once."""
        key = str(Path(path).resolve())
        if key not in self.templates:
            self.templates[key] = prepare_template(load_volume(path), self.settings)
        return self.templates[key]


@dataclass
class Parcellation:
    """Integer region labels on the subject grid, their names, and the registration they came through
    (None for schemes computed in subject space from the subject's own anatomy)."""

    labels: np.ndarray
    names: dict[int, str]
    registration: RegistrationResult | None = None


class Scheme(ABC):
    """A way to divide a subject's white matter into named regions."""

    def prepare(self, context: SchemeContext) -> None:
        """Load what the scheme needs once (atlases, templates); called before the first subject."""
        return None

    @abstractmethod
    def parcellate(self, anatomy: SubjectAnatomy, context: SchemeContext) -> Parcellation:
        """The subject's regions."""

    @abstractmethod
    def region_names(self, context: SchemeContext) -> dict[int, str]:
        """Label -> region name of every region the scheme can produce (for rows of failed subjects)."""


def format_subject_path(pattern: str, anatomy: SubjectAnatomy) -> Path:
    """``pattern`` with ``{subject_id}`` and ``{session}`` filled in for this subject."""
    return Path(str(pattern).format(subject_id=anatomy.subject_id, session=anatomy.session))


class _TemplateAtlasScheme(Scheme):
    """Shared behaviour of atlases in a template space: register the subject to the atlas template,
    bring the labels back, keep white matter."""

    def __init__(self) -> None:
        self._atlas: Atlas | None = None
        self._template: PreparedTemplate | None = None

    @abstractmethod
    def _load(self) -> Atlas: ...

    @abstractmethod
    def _template_path(self) -> str: ...

    def prepare(self, context: SchemeContext) -> None:
        if self._atlas is None:
            self._atlas = self._load()
            self._template = context.template(self._template_path())

    def region_names(self, context: SchemeContext) -> dict[int, str]:
        self.prepare(context)
        return self._atlas.names()

    def parcellate(self, anatomy: SubjectAnatomy, context: SchemeContext) -> Parcellation:
        self.prepare(context)
        result = register(anatomy.image, self._template, context.settings, anatomy.brain, context.cache)
        labels = propagate(result, self._atlas.labels, anatomy.grid, True)
        labels[~anatomy.wm_domain] = 0
        return Parcellation(labels, self._atlas.names(), result)


class AtlasScheme(_TemplateAtlasScheme):
    """Any atlas: a label image, a label table (TSV/CSV with index, name, tags; or the name of a shipped
    table such as ``jhu_icbm_dti81_labels.tsv``) and the template image it lies on."""

    def __init__(self, labels: str, table: str, template: str, name: str = "atlas"):
        super().__init__()
        self.labels, self.table, self.template, self.name = labels, table, template, name

    def _load(self) -> Atlas:
        return load_atlas(self.name, self.labels, self.table, self.template)

    def _template_path(self) -> str:
        return self.template


class Eve34Scheme(_TemplateAtlasScheme):
    """The seed paper's 34 white-matter regions: Eve WMPM type-II labels (from a user path) merged with
    the shipped table; ``keep_other`` adds the two 'other' regions (deep GM, cerebellum, brainstem)."""

    def __init__(self, labels: str, template: str, keep_other: bool = False):
        super().__init__()
        self.labels, self.template, self.keep_other = labels, template, keep_other

    def _load(self) -> Atlas:
        return load_eve34_atlas("eve34", self.labels, self.template, self.keep_other)

    def _template_path(self) -> str:
        return self.template


class BuiltinScheme(Scheme):
    """Hemisphere x approximate lobe x periventricular/deep/juxtacortical on the built-in reference
    (plus infratentorial); reuses the subject's reference registration, so it costs no registration."""

    def __init__(self, periventricular_mm: float = 10.0, juxtacortical_mm: float = 4.0):
        self.periventricular_mm, self.juxtacortical_mm = periventricular_mm, juxtacortical_mm
        self._atlas: Atlas | None = None

    def prepare(self, context: SchemeContext) -> None:
        if self._atlas is None:
            self._atlas = builtin_atlas(context.reference, self.periventricular_mm, self.juxtacortical_mm)

    def region_names(self, context: SchemeContext) -> dict[int, str]:
        self.prepare(context)
        return self._atlas.names()

    def parcellate(self, anatomy: SubjectAnatomy, context: SchemeContext) -> Parcellation:
        self.prepare(context)
        labels = propagate(anatomy.registration, self._atlas.labels, anatomy.grid, True)
        labels[~anatomy.wm_domain] = 0
        return Parcellation(labels, self._atlas.names(), anatomy.registration)


class DepthScheme(Scheme):
    """Periventricular (within ``periventricular_mm`` of the subject's lateral ventricles; clinical
    convention 10 mm), juxtacortical (within ``juxtacortical_mm`` of its cortex), deep, and, when
    ``infratentorial``, the white matter below the tentorium as a fourth region."""

    def __init__(self, periventricular_mm: float = 10.0, juxtacortical_mm: float = 4.0, infratentorial: bool = True):
        self.periventricular_mm, self.juxtacortical_mm = periventricular_mm, juxtacortical_mm
        self.infratentorial = infratentorial

    def region_names(self, context: SchemeContext) -> dict[int, str]:
        names = dict(DEPTH_BANDS)
        if self.infratentorial:
            names[max(DEPTH_BANDS) + 1] = "infratentorial"
        return names

    def parcellate(self, anatomy: SubjectAnatomy, context: SchemeContext) -> Parcellation:
        domain = anatomy.wm_domain
        cerebral = domain & ~anatomy.infratentorial
        labels = depth_bands(cerebral, anatomy.distance_to_ventricles, anatomy.distance_to_cortex,
                             self.periventricular_mm, self.juxtacortical_mm).astype(np.int32)
        if self.infratentorial:
            labels[domain & anatomy.infratentorial] = max(DEPTH_BANDS) + 1
        return Parcellation(labels, self.region_names(context))


class BullseyeScheme(Scheme):
    """Lobes x ``n_shells`` depth shells. Lobes come from, in order of preference:

    - ``subject_labels``: a per-subject FreeSurfer-style label image in scanner space (aparc+aseg,
      SynthSeg ``--parc``; a path pattern with ``{subject_id}``/``{session}``), resampled to the
      subject grid; its ventricles, cortex and white matter are used as well;
    - ``labels`` + ``template``: a DKT-style parcellation in a template space (e.g. Mindboggle-101),
      registered to the subject; depth then comes from the subject's own ventricles and cortex;
    - neither: the built-in reference's approximate (coordinate-plane) lobes on the subject's cortex.
    """

    def __init__(self, n_shells: int = 4, basal_ganglia: bool = True, subject_labels: str | None = None,
                 labels: str | None = None, template: str | None = None):
        if (labels is None) != (template is None):
            raise ValueError("bullseye: give both labels and template (a template-space parcellation) or neither")
        self.n_shells, self.basal_ganglia = n_shells, basal_ganglia
        self.subject_labels, self.labels, self.template = subject_labels, labels, template
        self._parcellation: nib.Nifti1Image | None = None
        self._template: PreparedTemplate | None = None

    def prepare(self, context: SchemeContext) -> None:
        if self.labels is not None and self._parcellation is None:
            self._parcellation = load_label_image(self.labels)
            self._template = context.template(self.template)

    def region_names(self, context: SchemeContext) -> dict[int, str]:
        return bullseye_names(self.n_shells, self.basal_ganglia)

    def _subject_parcellation(self, anatomy: SubjectAnatomy) -> np.ndarray:
        path = format_subject_path(self.subject_labels, anatomy)
        image = load_label_image(path)
        return resample_to_grid(image, anatomy.grid, sitk.AffineTransform(3), nearest=True)

    def parcellate(self, anatomy: SubjectAnatomy, context: SchemeContext) -> Parcellation:
        self.prepare(context)
        registration = None
        if self.subject_labels is not None:
            parcels = self._subject_parcellation(anatomy)
            ventricles = np.isin(parcels, VENTRICLE_LABELS)
            cortex = is_cortical_label(parcels)
            domain = np.isin(parcels, CEREBRAL_WM_LABELS) | (anatomy.wmh & ~anatomy.infratentorial)
            dv, dc = distance_mm(ventricles, anatomy.spacing), distance_mm(cortex, anatomy.spacing)
        else:
            if self.labels is not None:
                registration = register(anatomy.image, self._template, context.settings, anatomy.brain, context.cache)
                parcels = propagate(registration, self._parcellation, anatomy.grid, True)
            else:
                parcels = None
            domain = anatomy.wm_domain & ~anatomy.infratentorial
            dv, dc = anatomy.distance_to_ventricles, anatomy.distance_to_cortex
        if parcels is not None:
            seeds = dkt_lobe_seeds(parcels)
            deep = np.isin(parcels, BASAL_GANGLIA_THALAMUS_LABELS)
        else:
            seeds = np.where(anatomy.cortex, anatomy.right.astype(np.int8) * len(LOBES) + anatomy.lobes, 0)
            seeds = np.where(anatomy.lobes > 0, seeds, 0).astype(np.int8)
            deep = anatomy.deep_gm
        if not seeds.any():
            raise InputError(self.subject_labels or self.labels or "bullseye", "no cortical lobe labels found for this subject")
        labels, names = bullseye_parcellation(domain & ~deep, seeds, dv, dc, anatomy.spacing, self.n_shells,
                                              deep if self.basal_ganglia else None)
        return Parcellation(labels, names, registration)
