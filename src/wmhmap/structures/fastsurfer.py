"""FastSurfer outputs: its ``stats/aseg+DKT.stats`` (or ``aseg.stats``) is in FreeSurfer's format, so
the FreeSurfer reader maps it to the shared vocabulary."""

from __future__ import annotations

from pathlib import Path

from wmhmap.errors import InputError
from wmhmap.structures.freesurfer import read_stats, stats_volumes

__all__ = ["FASTSURFER_STATS", "fastsurfer_volumes"]

FASTSURFER_STATS: tuple[str, ...] = ("stats/aseg+DKT.stats", "stats/aseg.stats", "aseg+DKT.stats", "aseg.stats")
"""Where a FastSurfer subject folder keeps its segmentation statistics, in order of preference."""


def fastsurfer_volumes(source: str | Path) -> dict[str, float]:
    """Vocabulary volumes (mL) from a FastSurfer subject folder (or directly a stats file)."""
    source = Path(source)
    if source.is_file():
        return stats_volumes(read_stats(source))
    for relative in FASTSURFER_STATS:
        if (source / relative).is_file():
            return stats_volumes(read_stats(source / relative))
    raise InputError(source, f"no FastSurfer statistics found (looked for {', '.join(FASTSURFER_STATS)})")
