"""Find each reference's prediction in a predict-stage output folder.

The folder holds ``<subject_id>/<session>/wmh_mask.nii.gz`` (the predict stage's layout) and usually a
``predictions.csv`` (subject_id, session, mask: a path relative to the folder). The table wins when
present; otherwise the folder layout is used.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pandas as pd

from wmhmap.errors import InputError

__all__ = ["PREDICTION_MASK", "PREDICTION_TABLE", "read_prediction_table", "match_predictions"]

PREDICTION_MASK = "wmh_mask.nii.gz"
"""File name of a subject's predicted mask in the predict stage's layout."""

PREDICTION_TABLE = "predictions.csv"
"""The predict stage's index of what it wrote."""


def read_prediction_table(path: str | Path) -> dict[tuple[str, str], Path]:
    """(subject_id, session) -> absolute mask path from a ``predictions.csv`` (paths relative to its folder)."""
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(path, f"not a readable CSV table ({err})") from None
    missing = [c for c in ("subject_id", "session", "mask") if c not in table.columns]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)} (expected subject_id, session, mask)")
    keys = list(zip(table["subject_id"].str.strip(), table["session"].str.strip(), strict=True))
    duplicated = sorted(k for k, n in Counter(keys).items() if n > 1)
    if duplicated:
        raise InputError(path, f"duplicate subject/session rows: {', '.join('/'.join(k) for k in duplicated)}")
    return {
        key: Path(mask) if os.path.isabs(mask) else path.parent / mask
        for key, mask in zip(keys, table["mask"].str.strip(), strict=True)
        if mask
    }


def match_predictions(references: pd.DataFrame, predictions_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pair manifest rows (with a ``wmh`` reference) with their predicted masks.

    Returns ``(pairs, missing)``: ``pairs`` is ``references`` plus a ``prediction`` column (absolute
    path); ``missing`` lists subject_id, session, site and the reason for each row without one.
    """
    predictions_dir = Path(predictions_dir).absolute()
    if not predictions_dir.is_dir():
        raise InputError(predictions_dir, "predictions folder does not exist")
    table_path = predictions_dir / PREDICTION_TABLE
    listed = read_prediction_table(table_path) if table_path.is_file() else None
    found, missing = [], []
    for row in references.to_dict("records"):
        key = (str(row["subject_id"]), str(row["session"]))
        if listed is not None:
            mask = listed.get(key)
            reason = f"not listed in {table_path}" if mask is None else f"listed mask not found: {mask}"
        else:
            mask = predictions_dir / key[0] / key[1] / PREDICTION_MASK
            reason = f"no {mask}"
        if mask is not None and mask.is_file():
            found.append({**row, "prediction": str(mask)})
        else:
            missing.append({"subject_id": key[0], "session": key[1], "site": row.get("site"), "reason": reason})
    pairs = pd.DataFrame(found, columns=[*references.columns, "prediction"])
    return pairs, pd.DataFrame(missing, columns=["subject_id", "session", "site", "reason"])
