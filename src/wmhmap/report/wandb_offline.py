"""Read W&B runs from their offline files, without a network: the run's config, final summary and
history, from ``files/wandb-summary.json`` + ``files/config.yaml`` where present, else from the
run's transaction log (``run-<id>.wandb``, the LevelDB-style record log that ``wandb sync`` uploads)."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from wmhmap.errors import InputError

__all__ = ["OfflineRun", "find_offline_runs", "read_offline_run", "log_records"]

_MAGIC = b":W&B"
_HEADER = 7            # file header: magic, 2-byte version tag, 1-byte version
_BLOCK = 32768         # records never straddle a block header
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


@dataclass
class OfflineRun:
    """One offline W&B run: where it is, its identity, config, final summary and history rows."""

    path: Path
    run_id: str
    project: str = ""
    group: str = ""
    job_type: str = ""
    name: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    history: pd.DataFrame = field(default_factory=pd.DataFrame)


def log_records(path: str | Path) -> list[bytes]:
    """The raw records of a ``.wandb`` transaction log (chunks of fragmented records joined)."""
    path = Path(path)
    data = path.read_bytes()
    if data[:4] != _MAGIC:
        raise InputError(path, "not a W&B transaction log (bad magic bytes)")
    records, pending, pos = [], b"", _HEADER
    while pos + 7 <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < 7:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if length == 0 and kind == 0:  # zero padding to the end of the block
            pos += left
            continue
        chunk = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind == _FULL:
            records.append(chunk)
        elif kind == _FIRST:
            pending = chunk
        elif kind == _MIDDLE:
            pending += chunk
        elif kind == _LAST:
            records.append(pending + chunk)
            pending = b""
        else:
            raise InputError(path, f"corrupt W&B transaction log (record type {kind} at byte {pos})")
    return records


def _set_nested(target: dict[str, Any], keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        node = target.get(key)
        if not isinstance(node, dict):
            node = target[key] = {}
        target = node
    target[keys[-1]] = value


def _item_keys(item: Any) -> list[str]:
    return list(item.nested_key) if len(item.nested_key) else [item.key]


def _from_log(run_dir: Path, log_file: Path) -> OfflineRun:
    from wandb.proto import wandb_internal_pb2 as pb

    run = OfflineRun(path=run_dir, run_id=log_file.stem.removeprefix("run-"))
    history = []
    for raw in log_records(log_file):
        record = pb.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            info = record.run
            run.run_id, run.project, run.group = info.run_id, info.project, info.run_group
            run.job_type, run.name = info.job_type, info.display_name
            for item in info.config.update:
                _set_nested(run.config, _item_keys(item), json.loads(item.value_json))
        elif kind == "config":
            for item in record.config.update:
                _set_nested(run.config, _item_keys(item), json.loads(item.value_json))
        elif kind == "summary":
            for item in record.summary.update:
                _set_nested(run.summary, _item_keys(item), json.loads(item.value_json))
        elif kind == "history":
            row = {}
            for item in record.history.item:
                keys = _item_keys(item)
                if len(keys) == 1:
                    row[keys[0]] = json.loads(item.value_json)
            history.append(row)
    run.config.pop("_wandb", None)
    run.history = pd.DataFrame(history)
    return run


def _from_files(run_dir: Path, files: Path) -> OfflineRun:
    summary = json.loads((files / "wandb-summary.json").read_text())
    config = {}
    if (files / "config.yaml").is_file():
        raw = yaml.safe_load((files / "config.yaml").read_text()) or {}
        config = {k: v.get("value") if isinstance(v, dict) else v for k, v in raw.items() if k != "_wandb"}
    run = OfflineRun(path=run_dir, run_id=run_dir.name.rsplit("-", 1)[-1], config=config, summary=summary)
    metadata = files / "wandb-metadata.json"
    if metadata.is_file():
        meta = json.loads(metadata.read_text())
        run.job_type, run.group = meta.get("jobType") or "", meta.get("group") or ""
    return run


def read_offline_run(run_dir: str | Path) -> OfflineRun:
    """Read one run folder (``offline-run-<date>-<id>`` or ``run-<date>-<id>``).

    The transaction log carries everything (identity, config, summary, history); the JSON/YAML files,
    which only some W&B versions write for offline runs, are the fallback when it is absent.
    """
    run_dir = Path(run_dir)
    logs = sorted(run_dir.glob("run-*.wandb"))
    if logs:
        return _from_log(run_dir, logs[0])
    files = run_dir / "files"
    if (files / "wandb-summary.json").is_file():
        return _from_files(run_dir, files)
    raise InputError(run_dir, "no run-*.wandb log and no files/wandb-summary.json: not a W&B run folder")


def find_offline_runs(folder: str | Path) -> list[Path]:
    """Every W&B run folder under ``folder`` (recursively), in path order; ``latest-run`` links skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "W&B folder not found")
    found = set()
    for candidate in folder.rglob("*run-*"):
        if candidate.is_dir() and not candidate.is_symlink() and candidate.name != "latest-run" and (
                any(candidate.glob("run-*.wandb")) or (candidate / "files" / "wandb-summary.json").is_file()):
            found.add(candidate)
    return sorted(found)
