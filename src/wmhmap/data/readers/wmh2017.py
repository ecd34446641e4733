"""Reader for the MICCAI 2017 WMH Segmentation Challenge release (Kuijf et al., IEEE TMI 2019).

Layout: ``<root>/training|test/<Site>/[<scanner>/]<id>/pre/{FLAIR,T1}.nii.gz`` with the reference
``<id>/wmh.nii.gz`` (1 WMH, 2 other pathology). Amsterdam has the extra scanner level
(``training/Amsterdam/GE3T/100``); the other sites get a default scanner name per site.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from wmhmap.data.readers.rows import absolute, manifest_frame, problems_error
from wmhmap.errors import InputError

__all__ = ["LAYOUT", "SPLITS", "SCANNERS", "read_wmh2017"]

log = logging.getLogger(__name__)

LAYOUT = "training|test/<Site>/[<scanner>/]<id>/pre/{FLAIR,T1}.nii.gz and <id>/wmh.nii.gz"
SPLITS: dict[str, str] = {"training": "train", "test": "test"}
"""The challenge's official folders and the manifest split each one becomes."""
SCANNERS: dict[str, str] = {"Utrecht": "Philips_Achieva_3T", "Singapore": "Siemens_TrioTim_3T"}
"""Scanner of the sites without a scanner level (Kuijf et al. 2019, table 1)."""


def _subject_folders(split_dir: Path, image_dir: str, labels: str) -> list[Path]:
    """Folders under ``split_dir`` holding a reference label file or an image folder (not searched further)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(split_dir):
        dirnames.sort()
        if labels in filenames or image_dir in dirnames:
            found.append(Path(dirpath))
            dirnames[:] = []
    return found


def read_wmh2017(
    root: str | Path,
    scanners: Mapping[str, str] | None = None,
    splits: Mapping[str, str] | None = None,
    image_dir: str = "pre",
    flair: str = "FLAIR.nii.gz",
    t1: str | None = "T1.nii.gz",
    labels: str = "wmh.nii.gz",
) -> pd.DataFrame:
    """List every subject of a WMH 2017 challenge folder as a manifest (absolute paths, one session "1").

    ``subject_id`` joins the folder levels under the split (``Utrecht_0``, ``Amsterdam_GE3T_100``),
    so it is unique across sites and scanners. Training subjects need a reference; test subjects
    without one get an empty ``wmh``. Raises :class:`InputError` naming the root if it holds no
    subject, or listing every subject folder that lacks FLAIR, T1 or (training) the reference.
    """
    root = absolute(root)
    if not root.is_dir():
        raise InputError(root, f"dataset root is not a folder (expected the challenge layout {LAYOUT})")
    scanners = dict(SCANNERS if scanners is None else scanners)
    splits = {name.lower(): split for name, split in (SPLITS if splits is None else splits).items()}
    rows: list[dict[str, object]] = []
    problems: list[str] = []
    folder_of: dict[str, Path] = {}
    for split_dir in sorted(p for p in root.iterdir() if p.is_dir() and p.name.lower() in splits):
        split = splits[split_dir.name.lower()]
        for folder in _subject_folders(split_dir, image_dir, labels):
            levels = folder.relative_to(split_dir).parts
            if len(levels) not in (2, 3):
                problems.append(f"{folder}: not at <Site>/[<scanner>/]<id> under {split_dir.name}/")
                continue
            site, subject = levels[0], levels[-1]
            scanner = levels[1] if len(levels) == 3 else scanners.get(site, site)
            subject_id = "_".join(levels)
            if subject_id in folder_of:
                problems.append(f"{folder}: subject id {subject_id} already used by {folder_of[subject_id]}")
                continue
            folder_of[subject_id] = folder
            paths = {
                "flair": folder / image_dir / flair,
                "t1": None if t1 is None else folder / image_dir / t1,
            }
            for name, path in paths.items():
                if path is not None and not path.is_file():
                    problems.append(f"{folder}: no {name.upper()} image {image_dir}/{path.name}")
            wmh = folder / labels
            if not wmh.is_file():
                if split == "train":
                    problems.append(f"{folder}: training subject without reference {labels}")
                wmh = None
            rows.append(
                {
                    "subject_id": subject_id,
                    "session": "1",
                    "site": site,
                    "split": split,
                    "flair": str(paths["flair"]),
                    "t1": None if paths["t1"] is None else str(paths["t1"]),
                    "wmh": None if wmh is None else str(wmh),
                    "scanner": scanner,
                    "challenge_id": subject,
                }
            )
    if problems:
        raise problems_error(root, f"WMH 2017 folder does not follow the layout {LAYOUT}", problems)
    if not rows:
        raise InputError(
            root, f"no subjects found: expected {LAYOUT} (a training/ or test/ folder with subject folders)"
        )
    log.info("WMH 2017: %d subjects under %s", len(rows), root)
    return manifest_frame(rows)
