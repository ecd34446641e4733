"""Atomic file writes: write to a temporary sibling, then rename, so a killed run never leaves half a file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nibabel as nib
import pandas as pd

__all__ = ["atomic_path", "save_nifti", "write_table"]


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``, on error removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keep the real suffix(es) so libraries that choose a format by extension still do the right thing.
    suffix = "".join(path.suffixes) or ".tmp"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name.split('.')[0]}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def save_nifti(image: nib.Nifti1Image, path: str | Path) -> Path:
    """Write a NIfTI image atomically and return its path."""
    with atomic_path(path) as tmp:
        nib.save(image, str(tmp))
    return Path(path)


def write_table(frame: pd.DataFrame, path: str | Path, index: bool = False) -> Path:
    """Write a table atomically; the format follows the suffix (.csv, .tsv, .parquet, .md)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix == ".csv":
            frame.to_csv(tmp, index=index)
        elif path.suffix == ".tsv":
            frame.to_csv(tmp, index=index, sep="\t")
        elif path.suffix == ".parquet":
            frame.to_parquet(tmp, index=index)
        elif path.suffix == ".md":
            tmp.write_text(frame.to_markdown(index=index) + "\n")
        else:
            raise ValueError(f"{path}: unsupported table format {path.suffix!r}")
    return path
