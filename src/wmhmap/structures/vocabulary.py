"""One vocabulary of brain-structure names (bilateral sums, in mL) and how FreeSurfer / FastSurfer /
SynthSeg names and FreeSurfer label numbers map onto it.

Definitions differ between tools; the vocabulary keeps the name and documents the source:
``icv`` (FreeSurfer/FastSurfer eTIV, SynthSeg "total intracranial", built-in: brain-mask volume),
``gm`` (FreeSurfer TotalGrayVol: cortex + subcortical GM + cerebellar cortex), ``cortical_gm``,
``subcortical_gm``, ``wm`` (FreeSurfer/SynthSeg: cerebral white matter; built-in: all white matter),
``csf`` (SynthSeg and built-in only: FreeSurfer's aseg CSF label is not total CSF).
"""

from __future__ import annotations

__all__ = [
    "STRUCTURES",
    "FREESURFER_MEASURES",
    "FREESURFER_STRUCTURES",
    "ASEG_LABELS",
    "SYNTHSEG_NAMES",
    "GM_STRUCTURES",
    "CSF_STRUCTURES",
    "structure_of_aseg_name",
]

ASEG_LABELS: dict[str, tuple[int, ...]] = {
    "lateral_ventricles": (4, 43),
    "inferior_lateral_ventricles": (5, 44),
    "third_ventricle": (14,),
    "fourth_ventricle": (15,),
    "cerebellum_wm": (7, 46),
    "cerebellum_cortex": (8, 47),
    "thalamus": (10, 49),
    "caudate": (11, 50),
    "putamen": (12, 51),
    "pallidum": (13, 52),
    "brainstem": (16,),
    "hippocampus": (17, 53),
    "amygdala": (18, 54),
    "accumbens": (26, 58),
    "ventral_dc": (28, 60),
    "choroid_plexus": (31, 63),
    "wm_hypointensities": (77, 78, 79),
    "corpus_callosum": (251, 252, 253, 254, 255),
}
"""FreeSurfer aseg label numbers of each structure (also used by SynthSeg and Mindboggle labels)."""

GM_STRUCTURES: frozenset[str] = frozenset(
    {"cerebellum_cortex", "thalamus", "caudate", "putamen", "pallidum", "hippocampus", "amygdala", "accumbens",
     "ventral_dc"}
)
CSF_STRUCTURES: frozenset[str] = frozenset(
    {"lateral_ventricles", "inferior_lateral_ventricles", "third_ventricle", "fourth_ventricle"}
)

FREESURFER_MEASURES: dict[str, str] = {
    "EstimatedTotalIntraCranialVol": "icv",
    "BrainSeg": "brain",
    "TotalGray": "gm",
    "Cortex": "cortical_gm",
    "SubCortGray": "subcortical_gm",
    "CerebralWhiteMatter": "wm",
    "VentricleChoroidVol": "ventricles_choroid",
}
"""``# Measure`` keys of aseg.stats / brainvol.stats (first field) -> vocabulary name."""

FREESURFER_STRUCTURES: dict[str, str] = {
    "Lateral-Ventricle": "lateral_ventricles",
    "Inf-Lat-Vent": "inferior_lateral_ventricles",
    "3rd-Ventricle": "third_ventricle",
    "4th-Ventricle": "fourth_ventricle",
    "Cerebellum-White-Matter": "cerebellum_wm",
    "Cerebellum-Cortex": "cerebellum_cortex",
    "Thalamus": "thalamus",
    "Thalamus-Proper": "thalamus",
    "Caudate": "caudate",
    "Putamen": "putamen",
    "Pallidum": "pallidum",
    "Brain-Stem": "brainstem",
    "Hippocampus": "hippocampus",
    "Amygdala": "amygdala",
    "Accumbens-area": "accumbens",
    "VentralDC": "ventral_dc",
    "choroid-plexus": "choroid_plexus",
    "WM-hypointensities": "wm_hypointensities",
    "CC_Posterior": "corpus_callosum",
    "CC_Mid_Posterior": "corpus_callosum",
    "CC_Central": "corpus_callosum",
    "CC_Mid_Anterior": "corpus_callosum",
    "CC_Anterior": "corpus_callosum",
}
"""aseg StructName without its ``Left-``/``Right-`` prefix -> vocabulary name."""

SYNTHSEG_NAMES: dict[str, str] = {
    "total intracranial": "icv",
    "cerebral white matter": "wm",
    "cerebral cortex": "cortical_gm",
    "lateral ventricle": "lateral_ventricles",
    "inferior lateral ventricle": "inferior_lateral_ventricles",
    "cerebellum white matter": "cerebellum_wm",
    "cerebellum cortex": "cerebellum_cortex",
    "thalamus": "thalamus",
    "caudate": "caudate",
    "putamen": "putamen",
    "pallidum": "pallidum",
    "3rd ventricle": "third_ventricle",
    "4th ventricle": "fourth_ventricle",
    "brain-stem": "brainstem",
    "hippocampus": "hippocampus",
    "amygdala": "amygdala",
    "csf": "csf",
    "accumbens area": "accumbens",
    "ventral dc": "ventral_dc",
}
"""SynthSeg volume-CSV column names (lower case, without ``left ``/``right ``) -> vocabulary name."""

STRUCTURES: tuple[str, ...] = (
    "icv", "brain", "gm", "cortical_gm", "subcortical_gm", "wm", "csf", "ventricles_choroid",
    *ASEG_LABELS,
)
"""Every name the importers and the built-in segmentation may produce."""


def structure_of_aseg_name(name: str) -> str | None:
    """Vocabulary name of an aseg StructName (``Left-Hippocampus`` -> ``hippocampus``), or None."""
    for prefix in ("Left-", "Right-"):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    return FREESURFER_STRUCTURES.get(name)
