"""Reader for a BIDS dataset: ``sub-*/[ses-*/]anat/*_FLAIR.nii.gz`` (+ ``*_T1w``), WMH labels from a
derivatives folder with the same layout, and demographics from ``participants.tsv`` (overridden per
visit by ``sub-*/sub-*_sessions.tsv`` where that file holds the same columns)."""

from __future__ import annotations

import fnmatch
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from wmhmap.data.readers.codes import demographics
from wmhmap.data.readers.rows import absolute, manifest_frame, problems_error
from wmhmap.data.readers.tables import indexed_by, read_table, require_columns
from wmhmap.errors import InputError

__all__ = ["COLUMNS", "LAYOUT", "read_bids"]

log = logging.getLogger(__name__)

LAYOUT = "sub-*/[ses-*/]anat/*_FLAIR.nii.gz"
COLUMNS: dict[str, str | None] = {
    "diagnosis": "diagnosis",
    "age": "age",
    "sex": "sex",
    "site": None,
    "scanner": None,
}
"""Manifest field -> participants.tsv column (None: not read; the scanner then comes from the FLAIR's
JSON sidecar, the site from the ``site`` argument)."""


def _one(folder: Path, pattern: str) -> list[Path]:
    """Files in ``folder`` whose name matches ``pattern`` (case-sensitive, as BIDS names are)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and fnmatch.fnmatchcase(p.name, pattern))


def _sidecar_scanner(image: Path) -> str | None:
    """'Manufacturer Model 3T' from an image's JSON sidecar, or None when there is no sidecar."""
    sidecar = image.with_name(image.name.split(".nii")[0] + ".json")
    if not sidecar.is_file():
        return None
    try:
        meta = json.loads(sidecar.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(sidecar, f"not a readable JSON sidecar ({err})") from None
    field = meta.get("MagneticFieldStrength")
    parts = [meta.get("Manufacturer"), meta.get("ManufacturersModelName"), f"{field:g}T" if field else None]
    return " ".join(str(p) for p in parts if p) or None


def _visit_tables(
    visits: pd.DataFrame, root: Path, participants: Path, wanted: Sequence[str]
) -> pd.DataFrame:
    """The ``wanted`` columns for each visit, from participants.tsv then the subject's sessions.tsv."""
    raw = pd.DataFrame({c: pd.Series(pd.NA, index=visits.index, dtype="object") for c in wanted})
    if participants.is_file():
        table = read_table(participants)
        require_columns(
            table, ["participant_id", *wanted], participants, "set data.reader.columns.<field>=null"
        )
        table = indexed_by(table, "participant_id", participants)
        absent = sorted(set(visits["subject_id"]) - set(table.index))
        if absent:
            log.warning(
                "%d subject(s) not in %s, demographics left empty: %s", len(absent), participants, absent
            )
        for column in wanted:
            raw[column] = visits["subject_id"].map(table[column]).astype("object")
    elif wanted:
        log.warning("%s not found: diagnosis and demographics only from sessions.tsv files", participants)
    for subject, index in visits.groupby("subject_id").groups.items():
        sessions_file = root / subject / f"{subject}_sessions.tsv"
        if not sessions_file.is_file():
            continue
        sessions = read_table(sessions_file)
        require_columns(sessions, ["session_id"], sessions_file)
        sessions = indexed_by(sessions, "session_id", sessions_file)
        for column in (c for c in wanted if c in sessions.columns):
            per_visit = visits.loc[index, "session_dir"].map(sessions[column])
            raw.loc[index, column] = per_visit.where(per_visit.notna(), raw.loc[index, column])
    return raw


def read_bids(
    root: str | Path,
    flair_pattern: str = "*_FLAIR.nii*",
    t1_pattern: str | None = "*_T1w.nii*",
    labels_dir: str | Path | None = None,
    label_pattern: str = "*_label-WMH_mask.nii*",
    brain_mask_pattern: str | None = None,
    participants: str | Path = "participants.tsv",
    columns: Mapping[str, str | None] | None = None,
    diagnosis_map: Mapping[str, str | None] | None = None,
    sex_map: Mapping[str, str | None] | None = None,
    site: str | None = None,
    labelled_split: str = "test",
    unlabelled_split: str = "unlabelled",
) -> pd.DataFrame:
    """List every visit with a FLAIR in a BIDS dataset as a manifest with absolute paths.

    ``subject_id`` is the BIDS participant (``sub-01``), ``session`` the session label (``01``) or
    "1". Labels (and brain masks, by ``brain_mask_pattern``) come from ``labels_dir`` (relative to
    the root, e.g. ``derivatives/wmh``) laid out like the raw data; a labelled visit gets
    ``labelled_split``, others ``unlabelled_split``. Site: the ``columns['site']`` column, else
    ``site``, else the dataset folder's name. Raises :class:`InputError` when no FLAIR is found or
    listing every visit with a missing T1 or an ambiguous match.
    """
    unknown = set(columns or {}) - set(COLUMNS)
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)} in columns; known: {sorted(COLUMNS)}")
    cols = {**COLUMNS, **(columns or {})}
    root = absolute(root)
    if not root.is_dir():
        raise InputError(root, f"BIDS root is not a folder (expected {LAYOUT})")
    derivatives = None if labels_dir is None else root / labels_dir
    if derivatives is not None and not derivatives.is_dir():
        raise InputError(derivatives, "labels folder does not exist (data.reader.labels_dir)")

    visits: list[dict[str, object]] = []
    problems: list[str] = []
    without_flair: list[str] = []
    for subject_dir in sorted(p for p in root.glob("sub-*") if p.is_dir()):
        session_dirs = sorted(p for p in subject_dir.glob("ses-*") if p.is_dir()) or [None]
        for session_dir in session_dirs:
            rel = Path(subject_dir.name) if session_dir is None else Path(subject_dir.name, session_dir.name)
            anat = root / rel / "anat"
            found = {"flair": _one(anat, flair_pattern)}
            if not found["flair"]:
                without_flair.append(str(rel))
                continue
            if t1_pattern:
                found["t1"] = _one(anat, t1_pattern)
                if not found["t1"]:
                    problems.append(f"{anat}: no T1 matching '{t1_pattern}'")
            if derivatives is not None:
                found["wmh"] = _one(derivatives / rel / "anat", label_pattern)
                if brain_mask_pattern:
                    found["brain_mask"] = _one(derivatives / rel / "anat", brain_mask_pattern)
            for name, matches in found.items():
                if len(matches) > 1:
                    problems.append(
                        f"{rel}: {len(matches)} {name} files match, narrow the pattern: {matches}"
                    )
            visits.append(
                {
                    "subject_id": subject_dir.name,
                    "session_dir": None if session_dir is None else session_dir.name,
                    "session": "1" if session_dir is None else session_dir.name.removeprefix("ses-"),
                    **{name: str(matches[0]) if matches else None for name, matches in found.items()},
                }
            )
    if problems:
        raise problems_error(root, f"BIDS dataset is not usable as {LAYOUT}", problems)
    if not visits:
        raise InputError(root, f"no FLAIR images found: expected {LAYOUT} matching '{flair_pattern}'")
    if without_flair:
        log.warning("%d visit folder(s) without a FLAIR skipped: %s", len(without_flair), without_flair)

    frame = pd.DataFrame(visits)
    wanted = [c for c in cols.values() if c]
    source = root / participants
    raw = _visit_tables(frame, root, source, wanted)
    people = demographics(raw, cols, source, diagnosis_map, sex_map)
    frame[["diagnosis", "age", "sex"]] = people[["diagnosis", "age", "sex"]]
    if cols["site"]:
        frame["site"] = raw[cols["site"]]
        blank = frame.loc[frame["site"].isna(), "subject_id"].unique().tolist()
        if blank:
            raise InputError(source, f"site column '{cols['site']}' is empty for subject(s) {blank}")
    else:
        frame["site"] = site or root.name
    if cols["scanner"]:
        frame["scanner"] = raw[cols["scanner"]]
    else:
        frame["scanner"] = [_sidecar_scanner(Path(p)) for p in frame["flair"]]
    labelled = frame["wmh"].notna() if "wmh" in frame.columns else pd.Series(False, index=frame.index)
    frame["split"] = labelled.map({True: labelled_split, False: unlabelled_split})
    log.info("BIDS: %d visit(s) of %d subject(s) under %s", len(frame), frame["subject_id"].nunique(), root)
    return manifest_frame(frame.drop(columns="session_dir").to_dict("records"))
