"""Find the run directories a report covers: given directories and glob patterns, and folders searched
recursively; each is recognised by the files its stage writes (train, evaluate or classify)."""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wmhmap.errors import InputError

__all__ = ["RUN_KINDS", "Gathered", "run_kind", "expand_runs", "search_runs", "gather_runs", "short_labels"]

log = logging.getLogger(__name__)

RUN_KINDS = {
    "train": ("metrics.yaml", "config.yaml"),
    "evaluate": ("per_subject.csv", "summary.csv"),
    "classify": ("results.csv", "summary.csv"),
}
"""Each stage's run directory and the files that mark it."""

_SKIP_DIRS = {"wandb", "checkpoints", "cv_cache", ".hydra", "csv", "predictions"}


@dataclass
class Gathered:
    """Run directories by kind, each list in path order without duplicates."""

    train: list[Path] = field(default_factory=list)
    evaluate: list[Path] = field(default_factory=list)
    classify: list[Path] = field(default_factory=list)

    def add(self, kind: str, path: Path) -> None:
        runs = getattr(self, kind)
        if path not in runs:
            runs.append(path)

    def all(self) -> list[Path]:
        return [*self.train, *self.evaluate, *self.classify]


def run_kind(path: str | Path) -> str | None:
    """``train``, ``evaluate`` or ``classify`` when ``path`` holds that stage's outputs, else ``None``."""
    path = Path(path)
    for kind, markers in RUN_KINDS.items():
        if all((path / marker).is_file() for marker in markers):
            return kind
    return None


def expand_runs(patterns: Iterable[str | Path]) -> list[Path]:
    """Directories named by paths or glob patterns (``*``, ``?``, ``[...]``, ``**``), in order.

    A plain path that does not exist, or a pattern that matches nothing, is an error naming it.
    """
    found: list[Path] = []
    for pattern in patterns:
        text = os.path.expanduser(str(pattern))
        if glob.has_magic(text):
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_dir())
            if not matches:
                raise InputError(text, "glob pattern matches no directory")
        else:
            if not Path(text).is_dir():
                raise InputError(text, "run directory not found")
            matches = [Path(text)]
        found.extend(m.absolute() for m in matches if m.absolute() not in found)
    return found


def search_runs(folder: str | Path) -> list[Path]:
    """Every run directory under ``folder`` (itself included), skipping W&B, checkpoint and cache folders."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "folder to search not found")
    found = []
    for root, dirs, _files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        if run_kind(root):
            found.append(Path(root).absolute())
    return found


def gather_runs(runs: Sequence[str | Path] = (), search: Sequence[str | Path] = ()) -> Gathered:
    """Run directories from ``runs`` (paths or patterns; each must be a run directory) and ``search``
    (folders searched recursively)."""
    gathered = Gathered()
    for path in expand_runs(runs):
        kind = run_kind(path)
        if kind is None:
            expected = "; ".join(f"{k}: {' + '.join(m)}" for k, m in RUN_KINDS.items())
            raise InputError(path, f"not a run directory (expected the files of one stage: {expected}); "
                                   "pass its parent folder as search=[...] to look inside it")
        gathered.add(kind, path)
    for folder in search:
        for path in search_runs(os.path.expanduser(str(folder))):
            gathered.add(run_kind(path), path)
    log.info("gathered %d training, %d evaluation and %d classification run(s)",
             len(gathered.train), len(gathered.evaluate), len(gathered.classify))
    return gathered


def short_labels(paths: Sequence[Path]) -> dict[Path, str]:
    """A short unique label per path: its last two components (one when alone), more where needed to
    tell paths apart."""
    paths = list(dict.fromkeys(paths))
    if not paths:
        return {}
    depth = max(len(p.parts) for p in paths)
    for k in range(1 if len(paths) == 1 else 2, depth + 1):
        labels = {p: "/".join(p.parts[-k:]) for p in paths}
        if len(set(labels.values())) == len(paths):
            return labels
    return {p: p.as_posix() for p in paths}
