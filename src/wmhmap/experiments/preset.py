"""Experiment presets: a named YAML file (``experiments/<name>/preset.yaml``) listing the stage runs
that answer one question, at a ``smoke`` size (CPU, seconds) and a ``full`` size (real data, GPU).

A preset has ``name``, ``question``, ``report`` (settings of the closing report), ``sizes`` (per size:
values the steps refer to as ``${size.<key>}``, and ``requires``: inputs that must be given) and
``steps``. A step has ``name``, ``stage``, ``overrides`` and optionally ``grid`` (axes expanded to
every combination, one run each), ``needs`` (steps that must have run) and ``unless_exists`` (a
path: when it exists the step is not needed, e.g. a prepared cohort's manifest). An override item is a
string (``loss=dice_ce``), a mapping (``{table: ${table}}``; a null value leaves the key out) or a
list of either. Strings may refer to ``${run_dir}`` (the experiment's run directory), ``${data_dir}``,
``${name}`` and the experiment's inputs (``${table}``, ``${classify_task}``, ``${data_root}``, ``${cohort}``).
A grid axis is ``key: [values]`` (``key=value`` each) or ``axis: {label: [overrides], ...}``.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from wmhmap.errors import InputError, WmhmapError
from wmhmap.sweep.overrides import hydra_override

__all__ = ["PlannedRun", "presets_dir", "list_presets", "load_preset", "render_overrides", "expand_grid",
           "plan_runs", "size_requirements", "report_settings", "SIZES"]

SIZES = ("smoke", "full")
_LABEL_CHARS = re.compile(r"[^A-Za-z0-9._=+-]+")


@dataclass(frozen=True)
class PlannedRun:
    """One stage run of a preset: its step, stage, label, Hydra overrides, run directory and needs."""

    step: str
    stage: str
    label: str
    overrides: tuple[str, ...]
    run_dir: Path
    needs: tuple[str, ...] = ()
    unless_exists: Path | None = None


def presets_dir(folder: str | Path | None = None) -> Path:
    """Where presets live: ``folder``, else ``$WMHMAP_EXPERIMENTS_DIR``, else the checkout's ``experiments/``."""
    if folder:
        return Path(folder)
    if os.environ.get("WMHMAP_EXPERIMENTS_DIR"):
        return Path(os.environ["WMHMAP_EXPERIMENTS_DIR"])
    from wmhmap.cli.common import CONF_DIR

    return Path(CONF_DIR).parent / "experiments"


def list_presets(folder: str | Path | None = None) -> list[str]:
    """Names of the presets in the presets folder (sub-folders holding a ``preset.yaml``)."""
    return sorted(p.parent.name for p in presets_dir(folder).glob("*/preset.yaml"))


def load_preset(name: str | Path, folder: str | Path | None = None) -> DictConfig:
    """A preset by name (``experiments/<name>/preset.yaml``) or by the path of its YAML file, checked
    for the keys every preset needs."""
    path = Path(name)
    if path.suffix not in (".yaml", ".yml"):
        path = presets_dir(folder) / str(name) / "preset.yaml"
        if not path.is_file():
            raise WmhmapError(f"no preset {name!r} in {presets_dir(folder)} (presets: {list_presets(folder)})")
    try:
        preset = OmegaConf.load(path)
    except (OSError, OmegaConfBaseException, ValueError) as error:
        raise InputError(path, f"cannot read the preset ({error})") from error
    problems = [f"missing key {key!r}" for key in ("name", "question", "steps", "sizes") if key not in preset]
    if not problems:
        problems += [f"sizes has no {size!r}" for size in SIZES if size not in preset.sizes]
        for i, step in enumerate(preset.steps):
            problems += [f"step {i} has no {key!r}" for key in ("name", "stage") if key not in step]
        names = [step.get("name") for step in preset.steps]
        problems += [f"step name {n!r} is used twice" for n in sorted({n for n in names if names.count(n) > 1})]
    if problems:
        raise InputError(path, "invalid preset: " + "; ".join(problems))
    return preset


def render_overrides(items: Any) -> list[str]:
    """Hydra override strings from a resolved override list (strings, mappings, nested lists)."""
    if items is None:
        return []
    if isinstance(items, str):
        return [items]
    if isinstance(items, Mapping):
        return [hydra_override(str(k), v) for k, v in items.items() if v is not None]
    if isinstance(items, Sequence):
        return [o for item in items for o in render_overrides(item)]
    raise WmhmapError(f"override item {items!r} is not a string, a mapping or a list")


def _label(value: Any) -> str:
    return _LABEL_CHARS.sub("-", str(value)).strip("-") or "x"


def expand_grid(grid: Mapping[str, Any] | None) -> list[tuple[str, list[str]]]:
    """Every combination of the grid's axes as (label, overrides); one unlabelled entry without a grid."""
    if not grid:
        return [("", [])]
    axes = []
    for axis, values in grid.items():
        short = str(axis).rsplit(".", 1)[-1]
        if isinstance(values, Mapping):
            axes.append([(f"{short}-{_label(k)}", render_overrides(v)) for k, v in values.items()])
        elif isinstance(values, Sequence) and not isinstance(values, str):
            axes.append([(f"{short}-{_label(v)}", [hydra_override(str(axis), v)]) for v in values])
        else:
            raise WmhmapError(f"grid axis {axis!r} must be a list of values or a mapping of labelled overrides")
        if not axes[-1]:
            raise WmhmapError(f"grid axis {axis!r} has no values")
    return [("_".join(label for label, _ in combo), [o for _, overrides in combo for o in overrides])
            for combo in itertools.product(*axes)]


def _resolved(preset: DictConfig, size: str, namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The preset's steps and report resolved against the size's values and the namespace."""
    if size not in preset.sizes:
        raise WmhmapError(f"preset {preset.name}: unknown size {size!r} (sizes: {list(preset.sizes)})")
    def raw(node: Any) -> Any:
        return OmegaConf.to_container(node, resolve=False) if node is not None else {}

    root = OmegaConf.create({**namespace, "size": raw(preset.sizes[size]), "steps": raw(preset.steps),
                             "report": raw(preset.get("report"))})
    try:
        return OmegaConf.to_container(root, resolve=True)
    except OmegaConfBaseException as error:
        raise WmhmapError(f"preset {preset.name} ({size}): cannot resolve {error}") from error


def plan_runs(preset: DictConfig, size: str, run_dir: str | Path, namespace: Mapping[str, Any]) -> list[PlannedRun]:
    """Every stage run of the preset at ``size``, in order, each in ``<run_dir>/<step>[/<grid label>]``.

    ``namespace`` holds what override strings may refer to (``run_dir`` is added); the overrides
    returned are the step's only (the runner adds paths, tracking and the user's).
    """
    run_dir = Path(run_dir)
    resolved = _resolved(preset, size, {**namespace, "run_dir": str(run_dir)})
    planned = []
    for step in resolved["steps"]:
        base = render_overrides(step.get("overrides"))
        unless = Path(step["unless_exists"]) if step.get("unless_exists") else None
        for label, grid_overrides in expand_grid(step.get("grid")):
            where = run_dir / step["name"] / label if label else run_dir / step["name"]
            planned.append(PlannedRun(step["name"], step["stage"], label or step["name"],
                                      tuple([*base, *grid_overrides]), where, tuple(step.get("needs") or ()), unless))
    return planned


def size_requirements(preset: DictConfig, size: str) -> dict[str, str]:
    """Inputs the preset needs at ``size`` (input name -> what to give), from ``sizes.<size>.requires``."""
    requires = preset.sizes[size].get("requires")
    return dict(OmegaConf.to_container(requires, resolve=False)) if requires else {}


def report_settings(preset: DictConfig, size: str, namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The preset's settings for its closing report (e.g. group_by, baseline, metric)."""
    return _resolved(preset, size, namespace)["report"]

