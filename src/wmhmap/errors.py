"""Errors raised for bad input: each names the file (or row) and the problem."""

from __future__ import annotations

from pathlib import Path

__all__ = ["WmhmapError", "InputError", "GeometryError", "ManifestError"]


class WmhmapError(Exception):
    """Base class of every error wmhmap raises on purpose."""


class InputError(WmhmapError):
    """A single input file is missing, unreadable or holds values we cannot use."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class GeometryError(WmhmapError):
    """Two images of one subject do not share a voxel grid (shape or affine)."""

    def __init__(self, path_a: str | Path, path_b: str | Path, problem: str):
        self.paths = (Path(path_a), Path(path_b))
        self.problem = problem
        super().__init__(f"{path_a} and {path_b} are not on the same grid: {problem}")


class ManifestError(WmhmapError):
    """A manifest fails validation; the message lists every offending row."""

    def __init__(self, path: str | Path | None, problems: list[str]):
        self.path = None if path is None else Path(path)
        self.problems = list(problems)
        where = "manifest" if path is None else f"manifest {path}"
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{where} is invalid ({len(self.problems)} problem(s)):\n{lines}")
