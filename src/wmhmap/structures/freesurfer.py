"""FreeSurfer ``.stats`` files (aseg.stats, brainvol.stats; FastSurfer writes the same format): the
``# Measure`` header values and the structure table, and their volumes in the shared vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from wmhmap.errors import InputError
from wmhmap.structures.vocabulary import FREESURFER_MEASURES, structure_of_aseg_name

__all__ = ["FreeSurferStats", "read_stats", "stats_volumes", "freesurfer_volumes"]

_TO_ML = {"mm^3": 1e-3, "mm3": 1e-3}


@dataclass(frozen=True)
class FreeSurferStats:
    """``measures``: first field of each ``# Measure`` line -> (value, unit); ``table``: the rows
    under ``# ColHeaders`` (empty when the file has none, e.g. brainvol.stats)."""

    path: Path
    measures: dict[str, tuple[float, str]]
    table: pd.DataFrame


def read_stats(path: str | Path) -> FreeSurferStats:
    """Parse a FreeSurfer stats file; a malformed measure or table row is an error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "FreeSurfer stats file does not exist")
    measures: dict[str, tuple[float, str]] = {}
    columns: list[str] | None = None
    rows: list[list[str]] = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        if line.startswith("# Measure "):
            fields = [f.strip() for f in line[len("# Measure "):].split(",")]
            try:
                measures[fields[0]] = (float(fields[3]), fields[4] if len(fields) > 4 else "")
            except (IndexError, ValueError):
                raise InputError(path, f"line {number}: malformed measure {line!r}") from None
        elif line.startswith("# ColHeaders"):
            columns = line.split()[2:]
        elif line.strip() and not line.startswith("#"):
            if columns is None:
                raise InputError(path, f"line {number}: table row before any '# ColHeaders' line")
            values = line.split()
            if len(values) != len(columns):
                raise InputError(path, f"line {number}: {len(values)} values for {len(columns)} columns")
            rows.append(values)
    table = pd.DataFrame(rows, columns=columns or [])
    for column in table.columns:
        converted = pd.to_numeric(table[column], errors="coerce")
        if converted.notna().all():
            table[column] = converted
    if not measures and table.empty:
        raise InputError(path, "no '# Measure' lines and no table: not a FreeSurfer stats file")
    return FreeSurferStats(path, measures, table)


def stats_volumes(stats: FreeSurferStats) -> dict[str, float]:
    """Vocabulary volumes (mL) from one stats file: mapped measures, plus structure volumes
    (``Volume_mm3`` summed over hemispheres) when the file has a structure table."""
    volumes: dict[str, float] = {}
    for key, name in FREESURFER_MEASURES.items():
        if key in stats.measures:
            value, unit = stats.measures[key]
            if unit not in _TO_ML:
                raise InputError(stats.path, f"measure {key} in unexpected unit {unit!r}")
            volumes[name] = value * _TO_ML[unit]
    if {"StructName", "Volume_mm3"} <= set(stats.table.columns):
        for struct, volume in zip(stats.table["StructName"], stats.table["Volume_mm3"], strict=True):
            name = structure_of_aseg_name(str(struct))
            if name is not None:
                volumes[name] = volumes.get(name, 0.0) + float(volume) * 1e-3
    return volumes


def freesurfer_volumes(source: str | Path, stats_names: tuple[str, ...] = ("aseg.stats", "brainvol.stats")) -> dict[str, float]:
    """Vocabulary volumes (mL) of one subject from a stats file or a folder holding ``stats_names``
    (a FreeSurfer ``stats/`` folder: aseg.stats is required, brainvol.stats adds its measures)."""
    source = Path(source)
    if source.is_file():
        return stats_volumes(read_stats(source))
    if not source.is_dir():
        raise InputError(source, "neither a FreeSurfer stats file nor a folder")
    present = [source / name for name in stats_names if (source / name).is_file()]
    if not present or present[0].name != stats_names[0]:
        raise InputError(source, f"no {stats_names[0]} in this folder")
    volumes: dict[str, float] = {}
    for path in reversed(present):
        volumes.update(stats_volumes(read_stats(path)))
    return volumes
