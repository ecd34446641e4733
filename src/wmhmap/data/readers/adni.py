"""Reader for an ADNI-style cohort: a table of subject visits (ADNIMERGE-like) joined to image files.

Images are found by a path pattern over the table's columns (``{PTID}/{VISCODE}/FLAIR.nii.gz``,
relative to the root; glob wildcards allowed when exactly one file matches) or by a path table
(columns subject, session, flair, t1, [wmh], [brain_mask]; paths relative to that table's folder).
"""

from __future__ import annotations

import glob
import logging
import re
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import pandas as pd
from tqdm.auto import tqdm

from wmhmap.data.readers.codes import demographics, parse_numbers
from wmhmap.data.readers.rows import MANIFEST_COLUMNS, absolute, manifest_frame, problems_error
from wmhmap.data.readers.tables import read_table, require_columns
from wmhmap.errors import InputError

__all__ = ["COLUMNS", "IMAGE_PATTERNS", "MODALITIES", "read_adni"]

log = logging.getLogger(__name__)

COLUMNS: dict[str, str | None] = {
    "subject": "PTID",
    "session": "VISCODE",
    "diagnosis": "DX",
    "age": "AGE",
    "sex": "PTGENDER",
    "site": None,
    "scanner": None,
    "years_from_baseline": None,
}
"""Manifest field -> cohort table column (None: not in the table). ADNIMERGE's AGE is the age at
baseline: name ``Years_bl`` as ``years_from_baseline`` to get the age at each visit."""

IMAGE_PATTERNS: dict[str, str | None] = {
    "flair": "{PTID}/{VISCODE}/FLAIR.nii.gz",
    "t1": "{PTID}/{VISCODE}/T1.nii.gz",
    "wmh": None,
    "brain_mask": None,
}
MODALITIES: tuple[str, ...] = ("flair", "t1", "wmh", "brain_mask")


def _pattern_paths(
    frame: pd.DataFrame, root: Path, patterns: Mapping[str, str | None], table: Path
) -> tuple[dict[str, list[Path | None]], dict[int, list[str]]]:
    """Each row's image per modality from path patterns; returns the paths and each row's missing images."""
    patterns = {m: p for m, p in patterns.items() if p}
    for modality, pattern in patterns.items():
        fields = [f for _, f, _, _ in string.Formatter().parse(pattern) if f]
        absent = [f for f in fields if f not in frame.columns]
        if absent:
            raise InputError(
                table,
                f"{modality} pattern '{pattern}' names column(s) {absent} not in the table {list(frame.columns)}",
            )
    paths: dict[str, list[Path | None]] = {m: [] for m in patterns}
    missing: dict[int, list[str]] = {}
    records = frame.to_dict("records")
    for i, record in enumerate(tqdm(records, desc="finding images", disable=len(records) < 1000)):
        values = {k: glob.escape("" if pd.isna(v) else str(v).strip()) for k, v in record.items()}
        for modality, pattern in patterns.items():
            path = root / pattern.format(**values)
            if glob.has_magic(str(path)):
                matches = sorted(glob.glob(str(path)))
                if len(matches) > 1:
                    missing.setdefault(i, []).append(
                        f"{modality} pattern matches {len(matches)} files {matches}"
                    )
                    paths[modality].append(None)
                    continue
                path = Path(matches[0]) if matches else path
            if not path.is_file():
                missing.setdefault(i, []).append(f"{modality} not found: {path}")
                paths[modality].append(None)
            else:
                paths[modality].append(path)
    return paths, missing


def _table_paths(
    subject: pd.Series, session: pd.Series, path_table: Path, keys: tuple[str, str | None]
) -> tuple[dict[str, list[Path | None]], dict[int, list[str]]]:
    """Each row's image per modality from a path table keyed by subject (and session)."""
    table = read_table(path_table)
    key_columns = [k for k in keys if k]
    require_columns(table, [*key_columns, "flair"], path_table)
    modalities = [m for m in MODALITIES if m in table.columns]
    table_keys = list(zip(*(table[k].fillna("").str.strip() for k in key_columns), strict=True))
    if keys[1] is None:
        table_keys = [(k[0], "1") for k in table_keys]
    seen: dict[tuple[str, ...], int] = {}
    duplicates = []
    for j, key in enumerate(table_keys):
        if key in seen:
            duplicates.append(f"rows {seen[key] + 2} and {j + 2}: both give images of {'/'.join(key)}")
        seen.setdefault(key, j)
    if duplicates:
        raise problems_error(path_table, "path table lists a subject visit more than once", duplicates)
    base = path_table.parent
    paths: dict[str, list[Path | None]] = {m: [] for m in modalities}
    missing: dict[int, list[str]] = {}
    for i, key in enumerate(zip(subject, session, strict=True)):
        j = seen.get(key)
        if j is None:
            missing.setdefault(i, []).append(f"no row in path table {path_table}")
        for modality in modalities:
            value = None if j is None else table.at[j, modality]
            if value is None or pd.isna(value) or not str(value).strip():
                if j is not None and modality == "flair":
                    missing.setdefault(i, []).append(f"flair is empty in path table row {j + 2}")
                paths[modality].append(None)
                continue
            path = base / str(value).strip()
            if not path.is_file():
                missing.setdefault(i, []).append(f"{modality} not found: {path}")
                paths[modality].append(None)
            else:
                paths[modality].append(absolute(path))
    unused = set(seen) - set(zip(subject, session, strict=True))
    if unused:
        log.warning(
            "%d row(s) of %s match no visit of the cohort table and are ignored", len(unused), path_table
        )
    return paths, missing


def _visits(
    frame: pd.DataFrame, cols: Mapping[str, str | None], site_pattern: str, table: Path
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Subject id, session and site of every row; blank ids, repeated visits and unknown sites are listed."""
    if not re.compile(site_pattern).groups:
        raise ValueError(f"site_pattern {site_pattern!r} needs one capture group (the site)")
    problems: list[str] = []
    subject = frame[cols["subject"]].fillna("").str.strip()
    session = frame[cols["session"]].fillna("").str.strip() if cols["session"] else subject.map(lambda _: "1")
    for i in frame.index[(subject == "") | (session == "")]:
        problems.append(f"row {i + 2}: empty {cols['subject']} or {cols['session']}")
    first: dict[tuple[str, str], int] = {}
    for i, key in enumerate(zip(subject, session, strict=True)):
        if key in first and key[0]:
            problems.append(f"rows {first[key] + 2} and {i + 2}: same visit {key[0]}/{key[1]}")
        first.setdefault(key, i)
    if cols["site"]:
        site = frame[cols["site"]].fillna("").str.strip()
        for i in frame.index[site == ""]:
            problems.append(f"row {i + 2} ({subject[i]}): empty site column {cols['site']}")
    else:
        site = subject.str.extract(site_pattern, expand=False)
        for i in frame.index[site.isna() & (subject != "")]:
            problems.append(
                f"row {i + 2}: site pattern {site_pattern!r} does not match subject {subject[i]!r} "
                "(set columns.site or site_pattern)"
            )
    if problems:
        raise problems_error(table, "cohort table has unusable rows", problems)
    return subject, session, site


def read_adni(
    root: str | Path,
    table: str | Path,
    images: Mapping[str, str | None] | None = None,
    path_table: str | Path | None = None,
    columns: Mapping[str, str | None] | None = None,
    diagnosis_map: Mapping[str, str | None] | None = None,
    sex_map: Mapping[str, str | None] | None = None,
    extra_columns: Sequence[str] = (),
    site_pattern: str = r"^(\d+)_S_",
    on_missing: Literal["error", "skip"] = "error",
    labelled_split: str = "test",
    unlabelled_split: str = "unlabelled",
) -> pd.DataFrame:
    """Join a cohort table (one row per subject visit) to its images as a manifest with absolute paths.

    ``table`` and ``path_table`` are relative to ``root`` unless absolute; ``path_table``, when
    given, replaces the ``images`` patterns. ``columns`` overrides entries of :data:`COLUMNS`.
    Each visit is a session (one subject can have several). The site is the ``site`` column or the
    first group of ``site_pattern`` on the subject id (``002_S_0413`` -> ``002``). A visit with a
    reference ``wmh`` gets ``labelled_split`` (default test: it can be scored), others
    ``unlabelled_split``. Visits whose images are missing raise one :class:`InputError` listing
    them all, or are dropped with a warning when ``on_missing="skip"``; ``extra_columns`` (e.g. ICV,
    a reference WMH volume) are copied under their own names.
    """
    if on_missing not in ("error", "skip"):
        raise ValueError(f"on_missing must be 'error' or 'skip', got {on_missing!r}")
    unknown = set(columns or {}) - set(COLUMNS)
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)} in columns; known: {sorted(COLUMNS)}")
    clash = [c for c in extra_columns if c in MANIFEST_COLUMNS]
    if clash:
        raise ValueError(f"extra_columns {clash} would overwrite manifest columns; rename them in the table")
    root = absolute(root)
    if not root.is_dir():
        raise InputError(root, "dataset root is not a folder")
    table = root / table
    cols = {**COLUMNS, **(columns or {})}
    frame = read_table(table)
    if frame.empty:
        raise InputError(table, "cohort table has no rows")
    named = [c for c in cols.values() if c]
    require_columns(frame, [*named, *extra_columns], table, "set the column names under data.reader.columns")

    subject, session, site = _visits(frame, cols, site_pattern, table)
    keys = list(zip(subject, session, strict=True))

    people = demographics(frame, cols, table, diagnosis_map, sex_map)
    if cols["years_from_baseline"]:
        years = parse_numbers(frame[cols["years_from_baseline"]], cols["years_from_baseline"], table)
        people["age"] = people["age"] + years.fillna(0.0)

    if path_table is not None:
        log.info("images from path table %s (image patterns not used)", path_table)
        paths, missing = _table_paths(subject, session, root / path_table, (cols["subject"], cols["session"]))
    else:
        paths, missing = _pattern_paths(frame, root, IMAGE_PATTERNS if images is None else images, table)
    if missing:
        listed = [
            f"row {i + 2} ({keys[i][0]}/{keys[i][1]}): {'; '.join(why)}" for i, why in sorted(missing.items())
        ]
        if on_missing == "error" or len(missing) == len(frame):
            raise problems_error(table, f"images missing for {len(missing)} of {len(frame)} visit(s)", listed)
        log.warning(
            "skipping %d of %d visit(s) without images:\n%s", len(missing), len(frame), "\n".join(listed)
        )

    rows = []
    for i in range(len(frame)):
        if i in missing:
            continue
        row: dict[str, object] = {m: (None if paths[m][i] is None else str(paths[m][i])) for m in paths}
        row.update(
            subject_id=keys[i][0],
            session=keys[i][1],
            site=site[i],
            split=labelled_split if row.get("wmh") else unlabelled_split,
            diagnosis=people.at[i, "diagnosis"],
            age=people.at[i, "age"],
            sex=people.at[i, "sex"],
            scanner=frame.at[i, cols["scanner"]] if cols["scanner"] else None,
        )
        row.update({c: frame.at[i, c] for c in extra_columns})
        rows.append(row)
    log.info(
        "ADNI cohort: %d visit(s) of %d subject(s) from %s",
        len(rows),
        len({r["subject_id"] for r in rows}),
        table,
    )
    return manifest_frame(rows)
