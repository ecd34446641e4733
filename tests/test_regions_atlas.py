"""Atlases (issue 5): label tables, the shipped Eve-34 and JHU tables, loading user atlases, and the
built-in scheme built from nilearn's template."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from wmhmap.errors import InputError
from wmhmap.regions.atlas import (
    eve34_merge_table,
    load_atlas,
    load_eve34_atlas,
    read_label_table,
    resource_path,
    snake_case,
)
from wmhmap.regions.builtin import builtin_atlas
from wmhmap.regions.reference import reference_anatomy, unpack


def test_snake_case_names():
    assert snake_case("Anterior limb of internal capsule R") == "anterior_limb_of_internal_capsule_r"
    assert snake_case("Fornix (cres) / Stria terminalis") == "fornix_cres_stria_terminalis"
    with pytest.raises(ValueError):
        snake_case(" / ")


def test_read_label_table_normalises_and_rejects_bad_tables(tmp_path):
    good = tmp_path / "labels.tsv"
    pd.DataFrame({"index": [0, 1, 2], "name": ["Background", "Left WM", "Right WM"], "hemisphere": ["", "l", "r"]}).to_csv(
        good, sep="\t", index=False)
    table = read_label_table(good)
    assert table["index"].tolist() == [1, 2] and table["name"].tolist() == ["left_wm", "right_wm"]
    assert "hemisphere" in table.columns
    duplicate = tmp_path / "dup.csv"
    pd.DataFrame({"index": [1, 2], "name": ["a", "A"]}).to_csv(duplicate, index=False)
    with pytest.raises(InputError, match="duplicate name"):
        read_label_table(duplicate)
    missing = tmp_path / "missing.tsv"
    pd.DataFrame({"label": [1]}).to_csv(missing, sep="\t", index=False)
    with pytest.raises(InputError, match="lacks column"):
        read_label_table(missing)


def test_shipped_eve34_table_merges_130_labels_into_34_regions_plus_other():
    merge = eve34_merge_table()
    assert len(merge) == 130 and merge["eve_label"].is_unique
    regions = merge.drop_duplicates("region")
    assert len(regions) == 36 and (regions["kind"] != "other").sum() == 34
    assert regions["region_key"].is_unique
    anterior = regions.set_index("region").loc[[14, 31], "region_key"].tolist()
    assert anterior == ["anterior_limb_ic_anterior_corona_radiata_sfof_left",
                        "anterior_limb_ic_anterior_corona_radiata_sfof_right"]
    jhu = read_label_table(resource_path("jhu_icbm_dti81_labels.tsv"))
    assert len(jhu) == 48 and set(jhu["hemisphere"]) == {"left", "right", "bilateral"}


def test_load_atlas_rejects_labels_missing_from_the_table(tmp_path):
    labels = np.zeros((4, 4, 4), dtype=np.int16)
    labels[0], labels[1] = 1, 9
    nib.save(nib.Nifti1Image(labels, np.eye(4)), tmp_path / "labels.nii.gz")
    nib.save(nib.Nifti1Image(np.ones((4, 4, 4), np.float32), np.eye(4)), tmp_path / "template.nii.gz")
    pd.DataFrame({"index": [1], "name": ["one"]}).to_csv(tmp_path / "table.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match=r"\[9\] have no row"):
        load_atlas("mine", tmp_path / "labels.nii.gz", tmp_path / "table.tsv", tmp_path / "template.nii.gz")


@pytest.mark.realdata
def test_real_eve34_and_jhu_atlases_load(shared_data):
    template = shared_data / "templates/MNI152_T1_1mm_brain.nii.gz"
    eve = load_eve34_atlas("eve34", shared_data / "atlases/eve_wmpm2/labels_mni152.nii.gz", template)
    present = set(np.unique(eve.label_array()).tolist()) - {0}
    assert present == set(range(1, 35)) and len(eve.names()) == 34
    jhu = load_atlas("jhu", shared_data / "atlases/jhu_icbm_dti81/labels.nii.gz", "jhu_icbm_dti81_labels.tsv", template)
    counts = pd.read_csv(shared_data / "atlases/jhu_icbm_dti81/labels.tsv", sep="\t").set_index("index")["n_voxels_1mm"]
    assert int((jhu.label_array() == 3).sum()) == counts[3]  # genu of the corpus callosum
    assert jhu.names()[3] == "genu_of_corpus_callosum"


@pytest.fixture(scope="module")
def reference_2mm(tmp_path_factory):
    return reference_anatomy(2, tmp_path_factory.mktemp("reference"))


def test_builtin_regions_cover_template_white_matter_disjoint_and_named(reference_2mm):
    atlas = builtin_atlas(reference_2mm)
    labels, names = atlas.label_array(), atlas.names()
    wm = reference_2mm.wm > 0.5
    assert (labels[wm] > 0).all()                                   # covers the template WM
    assert set(np.unique(labels).tolist()) - {0} <= set(names)      # every label is named
    assert len(set(names.values())) == len(names) == 25             # 2 x 4 x 3 + infratentorial
    assert "frontal_periventricular_left" in names.values() and "infratentorial" in names.values()
    assert all(n == n.lower() and " " not in n for n in names.values())
    # one label per voxel: each region's voxel set is disjoint by construction; check the sides.
    left = [k for k, n in names.items() if n.endswith("_left")]
    x = nib.affines.apply_affine(atlas.labels.affine, np.argwhere(np.isin(labels, left)))[:, 0]
    assert (x < 0).all()


def test_reference_packing_round_trips(reference_2mm):
    maps = unpack(reference_2mm.packed())
    for name in ("brain", "ventricles", "deep_gm", "cortex", "infratentorial", "right"):
        assert np.array_equal(maps[name], getattr(reference_2mm, name))
    assert np.array_equal(maps["lobes"], reference_2mm.lobes)
    assert 10 < reference_2mm.ventricles.sum() * 8 / 1000 < 40   # lateral ventricles, mL
