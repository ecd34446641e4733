"""Atlases: a label image, its label table (index, snake_case name, group tags) and the template image
it lies on. Loading from user paths, the label tables shipped with the package, and label merging
(e.g. the seed paper's Eve WMPM type-II -> 34 regions)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from wmhmap.data.nifti import load_image, load_volume
from wmhmap.errors import InputError

__all__ = [
    "Atlas",
    "snake_case",
    "resource_path",
    "read_label_table",
    "load_label_image",
    "merge_labels",
    "eve34_merge_table",
    "load_atlas",
    "load_eve34_atlas",
]

_RESOURCES = "wmhmap.resources"


@dataclass(frozen=True)
class Atlas:
    """A parcellation in template space: integer ``labels`` on the grid of ``template`` (the image a
    subject is registered to) and a ``table`` with columns ``index``, ``name`` plus group tags."""

    name: str
    labels: nib.Nifti1Image
    table: pd.DataFrame
    template: nib.Nifti1Image

    def names(self) -> dict[int, str]:
        """Label value -> region name."""
        return dict(zip(self.table["index"].astype(int), self.table["name"].astype(str), strict=True))

    def label_array(self) -> np.ndarray:
        """The label image as an int32 array."""
        return np.asarray(self.labels.dataobj, dtype=np.int32)


def snake_case(text: str) -> str:
    """``'Anterior limb of internal capsule R'`` -> ``'anterior_limb_of_internal_capsule_r'``."""
    words = re.sub(r"[^0-9a-zA-Z]+", " ", str(text)).strip().lower().split()
    if not words:
        raise ValueError(f"cannot make a region name from {text!r}")
    return "_".join(words)


def resource_path(name: str) -> Path:
    """Path of a file shipped in ``wmhmap/resources``."""
    path = Path(str(resources.files(_RESOURCES).joinpath(name)))
    if not path.is_file():
        raise InputError(path, "package resource is missing (reinstall wmhmap)")
    return path


def read_label_table(path: str | Path) -> pd.DataFrame:
    """Read a label table (TSV, or CSV by suffix) with columns ``index`` and ``name`` (+ any tags).

    Names become snake_case; index 0 (background) is dropped. Duplicate indices or names, missing
    columns and non-integer indices are errors naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "label table does not exist")
    sep = "," if path.suffix.lower() == ".csv" else "\t"
    try:
        table = pd.read_csv(path, sep=sep)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(path, f"unreadable label table ({err})") from None
    missing = [c for c in ("index", "name") if c not in table.columns]
    if missing:
        raise InputError(path, f"label table lacks column(s) {missing} (has {list(table.columns)})")
    index = pd.to_numeric(table["index"], errors="coerce")
    if index.isna().any() or not np.allclose(index, np.round(index)):
        raise InputError(path, "label table column 'index' must hold integers")
    table = table.assign(index=index.astype(int), name=table["name"].map(snake_case))
    table = table[table["index"] != 0].reset_index(drop=True)
    for column in ("index", "name"):
        duplicated = table[column][table[column].duplicated()].tolist()
        if duplicated:
            raise InputError(path, f"duplicate {column} value(s) in label table: {duplicated}")
    return table


def load_label_image(path: str | Path) -> nib.Nifti1Image:
    """Load an integer label image (integer or integral float storage) as int32."""
    image = load_image(path)
    data = np.asarray(image.dataobj)
    if np.issubdtype(data.dtype, np.floating):
        if not np.all(np.isfinite(data)):
            raise InputError(path, "label image contains NaN or Inf")
        rounded = np.rint(data)
        if not np.allclose(data, rounded, atol=1e-3):
            raise InputError(path, "label image holds non-integer values")
        data = rounded
    if data.min() < 0:
        raise InputError(path, "label image holds negative labels")
    header = image.header.copy()
    header.set_data_dtype(np.int32)
    return nib.Nifti1Image(data.astype(np.int32), image.affine, header)


def merge_labels(labels: np.ndarray, mapping: Mapping[int, int]) -> np.ndarray:
    """Relabel an integer array through ``mapping`` (old -> new); labels not in it become 0."""
    labels = np.asarray(labels)
    lookup = np.zeros(int(max(labels.max(initial=0), max(mapping, default=0))) + 1, dtype=np.int32)
    for old, new in mapping.items():
        lookup[int(old)] = int(new)
    return lookup[labels]


def eve34_merge_table() -> pd.DataFrame:
    """The seed paper's merging of Eve WMPM type-II labels into 34 white-matter regions (+2 'other'):
    columns eve_label, eve_name, region, region_name, region_key, hemisphere, kind."""
    return pd.read_csv(resource_path("eve_wmpm2_regions34.tsv"), sep="\t")


def _check_table_covers(labels: nib.Nifti1Image, table: pd.DataFrame, source: str | Path) -> None:
    present = set(np.unique(np.asarray(labels.dataobj)).astype(int).tolist()) - {0}
    unnamed = sorted(present - set(table["index"].astype(int)))
    if unnamed:
        raise InputError(source, f"label value(s) {unnamed[:20]} have no row in the label table")


def load_atlas(name: str, labels: str | Path, table: str | Path, template: str | Path) -> Atlas:
    """An :class:`Atlas` from a label image, a label table and the template image they lie on.

    Every nonzero label of the image must have a row in the table (rows without voxels are kept:
    they give 0 mL). ``table`` may name a shipped table (``jhu_icbm_dti81_labels.tsv``).
    """
    table_path = Path(table) if Path(table).is_file() else resource_path(str(table))
    frame = read_label_table(table_path)
    label_image = load_label_image(labels)
    _check_table_covers(label_image, frame, labels)
    return Atlas(name, label_image, frame, load_volume(template))


def load_eve34_atlas(name: str, labels: str | Path, template: str | Path, keep_other: bool = False) -> Atlas:
    """The Eve WMPM type-II labels merged into the seed paper's 34 regions (``keep_other`` adds the two
    'other' regions: deep grey matter, cerebellum and brainstem per hemisphere)."""
    merge = eve34_merge_table()
    if not keep_other:
        merge = merge[merge["kind"] != "other"]
    image = load_label_image(labels)
    unknown = sorted(set(np.unique(np.asarray(image.dataobj)).tolist()) - {0} - set(eve34_merge_table()["eve_label"]))
    if unknown:
        raise InputError(labels, f"label value(s) {unknown[:20]} are not Eve WMPM type-II labels")
    merged = merge_labels(np.asarray(image.dataobj), dict(zip(merge["eve_label"], merge["region"], strict=True)))
    regions = merge.drop_duplicates("region").sort_values("region")
    table = pd.DataFrame(
        {
            "index": regions["region"].astype(int).to_numpy(),
            "name": regions["region_key"].to_numpy(),
            "hemisphere": regions["hemisphere"].to_numpy(),
            "kind": regions["kind"].to_numpy(),
            "full_name": regions["region_name"].to_numpy(),
        }
    )
    return Atlas(name, nib.Nifti1Image(merged, image.affine), table, load_volume(template))
