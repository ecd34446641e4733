"""Brain-structure volumes (issue 5): FreeSurfer / FastSurfer / SynthSeg importers, the tissue
segmentation and atlas-propagated structures."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from scipy import ndimage

from wmhmap.errors import InputError
from wmhmap.structures.atlas import atlas_structure_volumes
from wmhmap.structures.fastsurfer import fastsurfer_volumes
from wmhmap.structures.freesurfer import freesurfer_volumes, read_stats
from wmhmap.structures.synthseg import read_synthseg_volumes, synthseg_column
from wmhmap.structures.tissue import TissueSegmentation, segment_tissues
from wmhmap.structures.vocabulary import STRUCTURES, structure_of_aseg_name


@pytest.mark.realdata
def test_freesurfer_import_matches_the_real_stats_files(shared_data):
    folder = shared_data / "freesurfer/soichi"
    volumes = freesurfer_volumes(folder)
    assert volumes["icv"] == pytest.approx(1420.434160521)            # eTIV, mm^3 -> mL
    assert volumes["lateral_ventricles"] == pytest.approx((5581.1 + 3370.2) / 1000)
    assert volumes["hippocampus"] == pytest.approx((4333.5 + 4328.9) / 1000)
    assert volumes["cortical_gm"] == pytest.approx(454.587696158)
    assert volumes["wm"] == pytest.approx(496.485)
    assert set(volumes) <= set(STRUCTURES)
    assert freesurfer_volumes(folder / "aseg.stats")["icv"] == volumes["icv"]
    assert len(read_stats(folder / "aseg.stats").table) == 45


def test_freesurfer_reader_names_the_problem(tmp_path):
    bad = tmp_path / "aseg.stats"
    bad.write_text("# ColHeaders Index SegId Volume_mm3 StructName\n1 17 4000.0\n")
    with pytest.raises(InputError, match="3 values for 4 columns"):
        read_stats(bad)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no aseg.stats"):
        freesurfer_volumes(empty)


@pytest.mark.realdata
def test_fastsurfer_folder_layout(shared_data, tmp_path):
    (tmp_path / "sub1/stats").mkdir(parents=True)
    shutil.copy(shared_data / "freesurfer/soichi/aseg.stats", tmp_path / "sub1/stats/aseg+DKT.stats")
    assert fastsurfer_volumes(tmp_path / "sub1")["thalamus"] == pytest.approx((8178.8 + 7387.3) / 1000)
    with pytest.raises(InputError, match="no FastSurfer statistics"):
        fastsurfer_volumes(tmp_path)


def test_synthseg_csv_import(tmp_path):
    path = tmp_path / "vol.csv"
    path.write_text(
        "subject,total intracranial,left cerebral white matter,left cerebral cortex,left lateral ventricle,"
        "left hippocampus,right cerebral white matter,right cerebral cortex,right lateral ventricle,"
        "right hippocampus,csf,ctx-lh-insula\n"
        "sub1_T1w,1500000,230000,250000,10000,4000,232000,248000,9000,4100,300000,5000\n"
        "sub2_T1w,1400000,220000,240000,20000,3500,222000,238000,19000,3600,320000,4800\n"
    )
    table = read_synthseg_volumes(path)
    assert table.loc["sub2_T1w", "lateral_ventricles"] == pytest.approx(39.0)
    assert table.loc["sub1_T1w", "icv"] == pytest.approx(1500.0)
    assert table.loc["sub1_T1w", "wm"] == pytest.approx(462.0)
    assert table.loc["sub1_T1w", "gm"] == pytest.approx(498.0 + 8.1)   # cortex + hippocampi
    numeric = tmp_path / "single.csv"
    numeric.write_text(",17,53,4,43\nimage,4000,4100,10000,9000\n")
    assert read_synthseg_volumes(numeric).loc["image", "hippocampus"] == pytest.approx(8.1)
    assert synthseg_column("ctx-lh-insula") is None and synthseg_column("right ventral DC") == "ventral_dc"


def test_aseg_names_map_to_the_vocabulary():
    assert structure_of_aseg_name("Left-Thalamus-Proper") == "thalamus"
    assert structure_of_aseg_name("Right-Lateral-Ventricle") == "lateral_ventricles"
    assert structure_of_aseg_name("Optic-Chiasm") is None


def _phantom(shape=(40, 40, 40)):
    """Nested spheres: CSF core (r < 6), WM (6-13), GM (13-17); brain = r < 17."""
    grid = np.indices(shape) - np.array(shape)[:, None, None, None] // 2
    radius = np.sqrt((grid**2).sum(0))
    truth = np.zeros(shape, np.uint8)
    truth[radius < 17] = 2
    truth[radius < 13] = 3
    truth[radius < 6] = 1
    return truth, radius < 17


def test_tissue_segmentation_recovers_a_phantom_with_blurred_priors():
    truth, brain = _phantom()
    rng = np.random.default_rng(0)
    image = np.choose(truth, [0.0, 30.0, 80.0, 110.0]) + rng.normal(0, 6, truth.shape)
    priors = np.stack([ndimage.gaussian_filter((truth == k).astype(float), 2.0) for k in (1, 2, 3)])
    lesion = np.zeros(truth.shape, bool)
    lesion[20, 20, 29:31] = True                                   # in GM: must come out as WM
    image[lesion] = 150.0
    seg = segment_tissues(image, brain, priors, exclude=lesion)
    inside = brain & ~lesion
    assert (seg.labels[inside] == truth[inside]).mean() > 0.97
    assert (seg.labels[lesion] == 3).all() and not seg.labels[~brain].any()
    volumes = seg.volumes_ml(0.001)
    assert volumes["csf"] == pytest.approx((truth == 1).sum() / 1000, rel=0.1)


def test_tissue_segmentation_follows_priors_not_intensity_order():
    truth, brain = _phantom()
    image = np.choose(truth, [0.0, 110.0, 30.0, 80.0])              # FLAIR-like: CSF bright here
    priors = np.stack([(truth == k).astype(float) for k in (1, 2, 3)])
    seg = segment_tissues(image, brain, priors)
    assert (seg.labels[brain] == truth[brain]).mean() > 0.99


def test_atlas_structures_intersect_the_matching_tissue():
    labels = np.zeros((4, 4, 4), np.int32)
    labels[0] = 17      # hippocampus (left), 16 voxels
    labels[1] = 4       # lateral ventricle (left), 16 voxels
    tissue = np.full((4, 4, 4), 2, np.uint8)
    tissue[0, 0] = 1    # 4 hippocampus voxels are CSF: not counted
    tissue[1, :2] = 1   # 8 ventricle voxels are CSF: counted
    seg = TissueSegmentation(tissue, (0, 0, 0), (1, 1, 1))
    volumes = atlas_structure_volumes(labels, seg, 0.002)
    assert volumes == {"hippocampus": pytest.approx(12 * 0.002), "lateral_ventricles": pytest.approx(8 * 0.002)}
