"""On-disk cache of preprocessed subjects, and filling it for a whole manifest.

An entry is a compressed ``.npz`` (arrays and grids) plus a JSON sidecar (what it was made from and
summary figures), both written atomically. Its key hashes the input files actually read (path, size,
modification time) and the resolved config, so a changed input or setting makes a new entry and
an unchanged one is read back instead of recomputed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import zipfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from wmhmap.errors import InputError, WmhmapError
from wmhmap.io.atomic import atomic_path
from wmhmap.preprocessing.config import PreprocessConfig, preprocess_config
from wmhmap.preprocessing.pipeline import NativeGrid, Preprocessed, preprocess_subject, subject_inputs

__all__ = [
    "CACHE_VERSION",
    "cache_key",
    "save_preprocessed",
    "load_preprocessed",
    "PreprocessCache",
    "preprocess_manifest",
]

log = logging.getLogger(__name__)

CACHE_VERSION = 1
"""Bumped whenever preprocessing code changes its output, so old entries are not reused."""

def cache_key(row: Mapping[str, object], config: PreprocessConfig) -> str:
    """SHA-256 of the cache version, the config and (path, size, mtime) of every file the config reads."""
    inputs = {}
    for column, value in subject_inputs(row, config).items():
        path = Path(value).absolute()
        try:
            stat = path.stat()
        except OSError as err:
            raise InputError(path, f"cannot read {column} file ({err.strerror or err})") from None
        inputs[column] = [str(path), stat.st_size, stat.st_mtime_ns]
    payload = {"version": CACHE_VERSION, "config": config.to_dict(), "inputs": inputs}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def save_preprocessed(pre: Preprocessed, path: str | Path) -> Path:
    """Write ``pre`` atomically as a compressed ``.npz``."""
    arrays: dict[str, np.ndarray] = {
        "image": pre.image,
        "brain_mask": pre.brain_mask,
        "affine": pre.affine,
        "native_shape": np.asarray(pre.native.shape, dtype=np.int64),
        "native_affine": pre.native.affine,
        "native_codes": np.asarray([pre.native.qform_code, pre.native.sform_code], dtype=np.int64),
    }
    if pre.label is not None:
        arrays["label"] = pre.label
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return Path(path)


def load_preprocessed(path: str | Path) -> Preprocessed:
    """Read an entry written by :func:`save_preprocessed`; a damaged file raises :class:`InputError`."""
    try:
        with np.load(path, allow_pickle=False) as data:
            codes = data["native_codes"]
            native = NativeGrid(
                tuple(int(n) for n in data["native_shape"]),  # type: ignore[arg-type]
                data["native_affine"],
                int(codes[0]),
                int(codes[1]),
            )
            label = data["label"] if "label" in data.files else None
            return Preprocessed(data["image"], label, data["brain_mask"], data["affine"], native)
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise InputError(path, f"damaged cache entry ({type(err).__name__}: {err})") from None


def _safe(text: object) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)) or "_"


class PreprocessCache:
    """Preprocessed subjects under ``cache_dir`` for one (resolved) config; ``get`` computes on a miss.

    Safe to share between processes: entries are immutable and written atomically under their key.
    """

    def __init__(self, cache_dir: str | Path, config: PreprocessConfig):
        if config.target_spacing == "median":
            raise ValueError("resolve target_spacing='median' with preprocess_config(settings, manifest) first")
        self.cache_dir = Path(cache_dir)
        self.config = config

    def paths(self, row: Mapping[str, object]) -> tuple[Path, Path, str]:
        """The entry's ``.npz`` and ``.json`` paths and its key."""
        key = cache_key(row, self.config)
        stem = f"{_safe(row.get('subject_id'))}_{_safe(row.get('session'))}_{key[:16]}"
        return self.cache_dir / f"{stem}.npz", self.cache_dir / f"{stem}.json", key

    def lookup(self, row: Mapping[str, object]) -> dict[str, Any] | None:
        """The sidecar record of a complete entry for ``row`` (without reading its arrays), else None."""
        npz, sidecar, key = self.paths(row)
        try:
            record = json.loads(sidecar.read_text())
            complete = record.get("key") == key and npz.stat().st_size == record.get("npz_bytes")
        except (OSError, ValueError, AttributeError):
            return None
        return record if complete else None

    def _compute(self, row: Mapping[str, object]) -> tuple[Preprocessed, dict[str, Any]]:
        npz, sidecar, key = self.paths(row)
        pre = preprocess_subject(row, self.config)
        save_preprocessed(pre, npz)
        label_ml = None if pre.label is None else float(np.count_nonzero(pre.label == 1)) * pre.voxel_ml
        record = {
            "subject_id": str(row.get("subject_id")),
            "session": str(row.get("session")),
            "key": key,
            "cache_path": str(npz.absolute()),
            "npz_bytes": npz.stat().st_size,
            "shape": list(pre.image.shape[1:]),
            "spacing": [round(s, 6) for s in pre.spacing],
            "native_shape": list(pre.native.shape),
            "brain_ml": float(np.count_nonzero(pre.brain_mask)) * pre.voxel_ml,
            "wmh_ml": label_ml,
            "config": self.config.to_dict(),
            "inputs": subject_inputs(row, self.config),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        with atomic_path(sidecar) as tmp:
            tmp.write_text(json.dumps(record, indent=2) + "\n")
        return pre, record

    def ensure(self, row: Mapping[str, object]) -> dict[str, Any]:
        """Make sure ``row`` is cached (computing it if needed) and return its sidecar record."""
        record = self.lookup(row)
        return record if record is not None else self._compute(row)[1]

    def get(self, row: Mapping[str, object]) -> Preprocessed:
        """The preprocessed subject: read from the cache, or computed and stored (also when the entry is damaged)."""
        if self.lookup(row) is not None:
            try:
                return load_preprocessed(self.paths(row)[0])
            except InputError as err:
                log.warning("recomputing %s", err)
        return self._compute(row)[0]


_TABLE_COLUMNS = ["subject_id", "session", "cache_path", "shape", "spacing", "brain_ml", "wmh_ml", "key"]


def preprocess_manifest(
    manifest: pd.DataFrame,
    config: PreprocessConfig,
    cache_dir: str | Path,
    workers: int = 1,
    progress: bool = True,
) -> pd.DataFrame:
    """Cache every row of ``manifest`` (``workers`` threads) and return one line per row:
    subject_id, session, cache_path, shape, spacing (mm), brain_ml, wmh_ml (None without a reference), key.

    A "median" target spacing is resolved over ``manifest`` first. Every failing subject is attempted;
    then one :class:`WmhmapError` lists them all.
    """
    config = preprocess_config(config, manifest)
    cache = PreprocessCache(cache_dir, config)
    rows = manifest.to_dict("records")
    records: list[dict[str, Any] | None] = [None] * len(rows)
    errors: dict[int, str] = {}

    def run(i: int) -> None:
        try:
            records[i] = cache.ensure(rows[i])
        except (WmhmapError, ValueError, OSError) as err:
            errors[i] = f"{rows[i].get('subject_id')}/{rows[i].get('session')}: {err}"

    with tqdm(total=len(rows), desc="preprocess", unit="subject", disable=not progress) as bar:
        if workers > 1 and len(rows) > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for future in as_completed([pool.submit(run, i) for i in range(len(rows))]):
                    future.result()
                    bar.update()
        else:
            for i in range(len(rows)):
                run(i)
                bar.update()
    if errors:
        lines = "\n".join(f"  - {errors[i]}" for i in sorted(errors))
        raise WmhmapError(f"preprocessing failed for {len(errors)} of {len(rows)} subject(s):\n{lines}")
    table = pd.DataFrame.from_records(records)
    log.info("preprocessed cache %s: %d subject-visit(s)", cache.cache_dir, len(table))
    return table.reindex(columns=_TABLE_COLUMNS) if len(table) else pd.DataFrame(columns=_TABLE_COLUMNS)
