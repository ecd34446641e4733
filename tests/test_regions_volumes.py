"""Regional volume maths, depth bands/shells, nearest-label lobes and the bullseye parcellation
(issue 5), on hand-made label images and on the real Mindboggle labels."""

from __future__ import annotations

import math

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from wmhmap.regions.atlas import merge_labels
from wmhmap.regions.bullseye import bullseye_names, bullseye_parcellation
from wmhmap.regions.depth import depth_bands, depth_shells, distance_mm, normalised_depth
from wmhmap.regions.lobes import dkt_lobe_seeds, is_cortical_label, nearest_label, plane_lobes
from wmhmap.regions.volumes import VOLUME_COLUMNS, regional_volumes


def test_regional_volumes_hand_computed_on_anisotropic_voxels():
    regions = np.zeros((4, 3, 2), dtype=np.int32)
    regions[0] = 1          # 6 voxels
    regions[1, :2] = 2      # 4 voxels
    wmh = np.zeros(regions.shape, dtype=bool)
    wmh[0, 0] = True        # 2 voxels in region 1
    wmh[1, 0, 0] = True     # 1 voxel in region 2
    wmh[3, 2, 1] = True     # 1 voxel outside any region
    voxel_ml = 0.5 * 1.0 * 3.0 / 1000  # 0.5 x 1 x 3 mm voxels
    table = regional_volumes(wmh, regions, {1: "a", 2: "b", 7: "empty"}, voxel_ml, icv_ml=1.5)
    assert tuple(table.columns) == VOLUME_COLUMNS
    rows = table.set_index("region")
    assert rows.loc["a", "wmh_ml"] == pytest.approx(2 * voxel_ml)
    assert rows.loc["a", "region_ml"] == pytest.approx(6 * voxel_ml)
    assert rows.loc["a", "wmh_fraction_of_region"] == pytest.approx(2 / 6)
    assert rows.loc["b", "wmh_fraction_of_region"] == pytest.approx(1 / 4)
    assert rows.loc["b", "wmh_per_icv"] == pytest.approx(voxel_ml / 1.5)
    assert rows.loc["empty", "region_ml"] == 0 and math.isnan(rows.loc["empty", "wmh_fraction_of_region"])


def test_regional_volumes_without_icv_and_shape_mismatch():
    table = regional_volumes(np.ones((2, 2, 2)), np.ones((2, 2, 2), int), {1: "all"}, 0.001, icv_ml=None)
    assert math.isnan(table.loc[0, "wmh_per_icv"]) and table.loc[0, "wmh_ml"] == pytest.approx(0.008)
    with pytest.raises(ValueError, match="shape"):
        regional_volumes(np.ones((2, 2, 2)), np.ones((2, 2, 3), int), {1: "all"}, 0.001)


def test_merge_labels_maps_and_zeroes_unlisted():
    labels = np.array([[0, 1, 2], [3, 130, 4]])
    assert merge_labels(labels, {1: 5, 2: 5, 130: 36}).tolist() == [[0, 5, 5], [0, 36, 0]]


def test_depth_bands_priority_and_distances():
    domain = np.ones((30, 1, 1), dtype=bool)
    ventricles = np.zeros_like(domain)
    ventricles[0] = True
    cortex = np.zeros_like(domain)
    cortex[-1] = True
    dv, dc = distance_mm(ventricles, (2.0, 1.0, 1.0)), distance_mm(cortex, (2.0, 1.0, 1.0))
    assert dv[5, 0, 0] == pytest.approx(10.0)
    bands = depth_bands(domain, dv, dc, periventricular_mm=10, juxtacortical_mm=4)[:, 0, 0]
    assert bands[:6].tolist() == [1] * 6          # within 10 mm of the ventricles
    assert bands[6:27].tolist() == [2] * 21       # deep
    assert bands[27:].tolist() == [3] * 3         # within 4 mm of the cortex
    assert np.isinf(distance_mm(np.zeros((2, 2, 2), bool), (1, 1, 1))).all()


def test_depth_shells_cut_normalised_depth_at_quarters():
    nd = np.array([0.0, 0.1, 0.25, 0.49, 0.5, 0.74, 0.75, 1.0, np.nan])
    shells = depth_shells(nd, np.ones(nd.shape, bool), 4)
    assert shells.tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 0]
    assert normalised_depth(np.array([3.0, 0.0]), np.array([1.0, 0.0]))[0] == pytest.approx(0.75)
    assert np.isnan(normalised_depth(np.array([0.0]), np.array([0.0]))[0])


def test_nearest_label_and_dkt_lobes():
    seeds = np.zeros((10, 1, 1), dtype=np.int8)
    seeds[0], seeds[9] = 3, 5
    domain = np.ones(seeds.shape, bool)
    domain[7] = False
    out = nearest_label(seeds, domain, (1, 1, 1))[:, 0, 0]
    assert out.tolist() == [3, 3, 3, 3, 3, 5, 5, 0, 5, 5]
    labels = np.array([1028, 2028, 1029, 1030, 1011, 1002, 17, 3])
    assert dkt_lobe_seeds(labels).tolist() == [1, 5, 2, 3, 4, 0, 0, 0]
    assert is_cortical_label(labels).tolist() == [True] * 6 + [False, True]


def test_plane_lobes_put_landmarks_in_their_lobe():
    # (x, y, z) MNI: middle frontal gyrus, superior parietal lobule, middle temporal gyrus, calcarine.
    points = np.array([[-40, 30, 30], [-25, -60, 60], [-60, -20, -15], [-10, -95, 5]], dtype=float)
    assert plane_lobes(points[:, 0], points[:, 1], points[:, 2]).tolist() == [1, 2, 3, 4]


def _sphere_geometry(size: int = 41):
    """Concentric geometry: ventricle ball (r < 6), white matter, cortex shell (r >= 17)."""
    grid = np.indices((size, size, size)) - size // 2
    radius = np.sqrt((grid**2).sum(axis=0))
    ventricles, cortex = radius < 6, (radius >= 17) & (radius < 19)
    domain = (radius >= 6) & (radius < 17)
    seeds = np.where(cortex, np.where(grid[0] < 0, 1, 5), 0).astype(np.int8)  # frontal left / right
    return radius, ventricles, cortex, domain, seeds


def test_bullseye_shells_ordered_by_depth_on_synthetic_spheres():
    radius, ventricles, cortex, domain, seeds = _sphere_geometry()
    dv, dc = distance_mm(ventricles, (1, 1, 1)), distance_mm(cortex, (1, 1, 1))
    labels, names = bullseye_parcellation(domain, seeds, dv, dc, (1, 1, 1), n_shells=4)
    assert set(np.unique(labels[domain])) <= set(names) and not labels[~domain].any()
    mean_radius = [radius[labels == k].mean() for k in (1, 2, 3, 4)]  # frontal_shell1..4_left
    assert [names[k] for k in (1, 2, 3, 4)] == [f"frontal_shell{k}_left" for k in (1, 2, 3, 4)]
    assert all(a < b for a, b in zip(mean_radius, mean_radius[1:], strict=False))
    assert len(bullseye_names(4, True)) == 36 and len(bullseye_names(4, False)) == 32


@pytest.mark.realdata
def test_bullseye_shells_ordered_on_mindboggle_2mm(shared_data):
    image = nib.load(shared_data / "atlases/mindboggle_dkt31/labels_2mm.nii.gz")
    labels = np.rint(np.asarray(image.dataobj)).astype(int)
    spacing = (2.0, 2.0, 2.0)
    ventricles, cortex = np.isin(labels, (4, 43)), is_cortical_label(labels)
    cerebrum = ndimage.binary_fill_holes(ndimage.binary_closing(cortex | (labels > 0), iterations=2))
    domain = cerebrum & (labels == 0)
    dv, dc = distance_mm(ventricles, spacing), distance_mm(cortex, spacing)
    out, names = bullseye_parcellation(domain, dkt_lobe_seeds(labels), dv, dc, spacing, 4,
                                       np.isin(labels, (10, 11, 12, 13, 49, 50, 51, 52)))
    shell = np.where(out > 0, (out - 1) % 4 + 1, 0)
    mean_dv = [dv[shell == k].mean() for k in (1, 2, 3, 4)]
    assert all(a < b for a, b in zip(mean_dv, mean_dv[1:], strict=False))
    lobes_present = {f"{names[k].split('_shell')[0]}_{names[k].rsplit('_', 1)[1]}" for k in np.unique(out[out > 0])}
    assert {"frontal_left", "occipital_right", "temporal_left", "parietal_right"} <= lobes_present
