"""Reader for any folder of NIfTI files: FLAIR, T1, labels and brain masks told apart by filename
patterns and grouped into subjects by folder (``<root>/<subject>/*FLAIR*.nii.gz``) or by a regular
expression on the file name (``<root>/sub01_FLAIR.nii.gz``, ``<root>/sub01_T1.nii.gz``)."""

from __future__ import annotations

import fnmatch
import logging
import os
import re
from pathlib import Path
from typing import Literal

import pandas as pd

from wmhmap.data.readers.rows import absolute, manifest_frame, problems_error
from wmhmap.errors import InputError

__all__ = ["read_folder"]

log = logging.getLogger(__name__)

_NIFTI = (".nii", ".nii.gz")


def _role(name: str, patterns: dict[str, str]) -> str | None:
    """The first role whose pattern matches ``name`` (case-insensitive), in the order given."""
    lowered = name.lower()
    return next(
        (role for role, pattern in patterns.items() if fnmatch.fnmatch(lowered, pattern.lower())), None
    )


def read_folder(
    root: str | Path,
    flair_pattern: str = "*FLAIR*.nii*",
    t1_pattern: str | None = "*T1*.nii*",
    label_pattern: str | None = None,
    brain_mask_pattern: str | None = None,
    group_by: Literal["folder", "stem"] = "folder",
    stem_regex: str = r"^(?P<subject>[^_]+)_",
    site: str | None = None,
    labelled_split: str = "test",
    unlabelled_split: str = "unlabelled",
) -> pd.DataFrame:
    """Pair every FLAIR under ``root`` with its T1 (and label, brain mask) as a manifest.

    Patterns are case-insensitive globs on file names; a file takes the first role it matches in
    the order label, brain mask, FLAIR, T1 (so ``sub01_FLAIR_wmh.nii.gz`` is a label, not a FLAIR).
    ``group_by="folder"``: one subject per folder, its id the folder's path under the root joined
    by ``_``. ``group_by="stem"``: files grouped by ``stem_regex``'s ``subject`` group (and
    ``session`` group, if any). A T1 is required when ``t1_pattern`` is set. Labelled subjects get
    ``labelled_split``, others ``unlabelled_split``; the site is ``site`` or the root's name.
    """
    if group_by not in ("folder", "stem"):
        raise ValueError(f"group_by must be 'folder' or 'stem', got {group_by!r}")
    stem = re.compile(stem_regex)
    if group_by == "stem" and "subject" not in stem.groupindex:
        raise ValueError(f"stem_regex {stem_regex!r} needs a named group (?P<subject>...)")
    root = absolute(root)
    if not root.is_dir():
        raise InputError(root, "image folder is not a folder")
    patterns = {
        "wmh": label_pattern,
        "brain_mask": brain_mask_pattern,
        "flair": flair_pattern,
        "t1": t1_pattern,
    }
    patterns = {role: pattern for role, pattern in patterns.items() if pattern}

    groups: dict[tuple[str, str], dict[str, list[Path]]] = {}
    problems: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            role = _role(name, patterns) if name.lower().endswith(_NIFTI) else None
            if role is None:
                continue
            path = Path(dirpath) / name
            if group_by == "folder":
                rel = Path(dirpath).relative_to(root).parts
                key = ("_".join(rel) if rel else root.name, "1")
            else:
                match = stem.search(name)
                if match is None:
                    problems.append(f"{path}: file name does not match stem_regex {stem_regex!r}")
                    continue
                key = (match["subject"], (match.groupdict().get("session") or "1"))
            groups.setdefault(key, {}).setdefault(role, []).append(path)

    rows = []
    for (subject, session), found in sorted(groups.items()):
        where = f"subject {subject}" + (f" session {session}" if session != "1" else "")
        for role, paths in found.items():
            if len(paths) > 1:
                hint = (
                    " (use group_by=stem for several subjects in one folder)" if group_by == "folder" else ""
                )
                problems.append(f"{where}: {len(paths)} files match the {role} pattern{hint}: {paths}")
        if "flair" not in found:
            problems.append(
                f"{where}: no file matches the FLAIR pattern '{flair_pattern}': {sum(found.values(), [])}"
            )
        if t1_pattern and "t1" not in found:
            problems.append(f"{where}: no file matches the T1 pattern '{t1_pattern}'")
        row: dict[str, object] = {role: str(paths[0]) for role, paths in found.items()}
        row.update(
            subject_id=subject,
            session=session,
            site=site or root.name,
            split=labelled_split if "wmh" in found else unlabelled_split,
        )
        rows.append(row)
    if problems:
        raise problems_error(root, "image folder cannot be paired into subjects", problems)
    if not rows:
        raise InputError(root, f"no NIfTI file (.nii, .nii.gz) matches the FLAIR pattern '{flair_pattern}'")
    log.info("folder: %d subject visit(s) under %s", len(rows), root)
    return manifest_frame(rows)
