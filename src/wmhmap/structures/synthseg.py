"""SynthSeg volume tables (``mri_synthseg --vol``): one row per image, volumes in mm^3 under structure
names (or label numbers), mapped to the shared vocabulary in mL. ``gm`` is derived as FreeSurfer's
TotalGray: cortex + subcortical grey matter + cerebellar cortex."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from wmhmap.errors import InputError
from wmhmap.structures.vocabulary import ASEG_LABELS, GM_STRUCTURES, SYNTHSEG_NAMES

__all__ = ["synthseg_column", "read_synthseg_volumes"]

_LABEL_TO_STRUCTURE = {label: name for name, labels in ASEG_LABELS.items() for label in labels}
_LABEL_TO_STRUCTURE.update({2: "wm", 41: "wm", 3: "cortical_gm", 42: "cortical_gm", 24: "csf"})


def synthseg_column(column: str) -> str | None:
    """Vocabulary name of a SynthSeg column (``left hippocampus`` -> ``hippocampus``; ``17`` ->
    ``hippocampus``), or None for columns outside the vocabulary (e.g. cortical parcels)."""
    text = str(column).strip().lower()
    if re.fullmatch(r"\d+", text):
        return _LABEL_TO_STRUCTURE.get(int(text))
    text = re.sub(r"^(left|right)\s+", "", text)
    return SYNTHSEG_NAMES.get(text)


def read_synthseg_volumes(path: str | Path) -> pd.DataFrame:
    """A SynthSeg volume CSV as one row per image (index: the ``subject`` column, '' for a single-image
    file) and one column per vocabulary structure in mL (hemispheres summed, ``gm`` added)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "SynthSeg volume file does not exist")
    try:
        raw = pd.read_csv(path, dtype={0: str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(path, f"unreadable SynthSeg volume CSV ({err})") from None
    if raw.shape[1] < 2 or raw.empty:
        raise InputError(path, "SynthSeg volume CSV needs a subject column and at least one volume row")
    subjects = raw.iloc[:, 0].fillna("").astype(str).str.strip()
    out = pd.DataFrame(index=pd.Index(subjects, name="subject"))
    for column in raw.columns[1:]:
        name = synthseg_column(column)
        if name is None:
            continue
        values = pd.to_numeric(raw[column], errors="coerce")
        if values.isna().any():
            raise InputError(path, f"column {column!r} holds non-numeric volumes")
        out[name] = out.get(name, 0.0) + values.to_numpy() * 1e-3
    if out.shape[1] == 0:
        raise InputError(path, f"no SynthSeg structure column recognised in {list(raw.columns)[:8]}...")
    gm_parts = [c for c in out.columns if c == "cortical_gm" or c in GM_STRUCTURES]
    if "cortical_gm" in out.columns:
        out["gm"] = out[gm_parts].sum(axis=1)
    return out
