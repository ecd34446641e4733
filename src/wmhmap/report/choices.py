"""Which option of each config group a training run used, read back from its resolved config.

A run's ``config.yaml`` is resolved, so group choices such as ``loss=tversky`` are not written down;
they are recovered by matching the run's node against each option file in ``conf/<group>/``. A node
that matches no option exactly gets the closest option's name with a ``*`` (changed by overrides).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = ["flatten", "infer_choice", "run_choices", "CHOICE_GROUPS"]

CHOICE_GROUPS = ("data", "model", "modalities", "augmentation", "loss", "optimizer", "scheduler", "split")
"""The config groups a training leaderboard describes a run by."""


def flatten(node: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Leaves of a nested mapping keyed by their path (lists are leaves)."""
    if not isinstance(node, Mapping):
        return {prefix: node}
    leaves: dict[tuple[str, ...], Any] = {}
    for key, value in node.items():
        leaves.update(flatten(value, (*prefix, str(key))))
    return leaves


def _is_interpolation(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


@functools.lru_cache(maxsize=64)
def _options(conf_dir: str, group: str) -> tuple[tuple[str, dict[tuple[str, ...], Any]], ...]:
    """The comparable leaves of every option file of a group (interpolations and defaults left out)."""
    options = []
    for path in sorted(Path(conf_dir, group).glob("*.yaml")):
        raw = yaml.safe_load(path.read_text())
        if isinstance(raw, Mapping):
            leaves = {k: v for k, v in flatten({k: v for k, v in raw.items() if k != "defaults"}).items()
                      if not _is_interpolation(v)}
            options.append((path.stem, leaves))
    return tuple(options)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return float(a) == float(b)
    return a == b


def infer_choice(node: Any, group: str, conf_dir: str | Path) -> str:
    """The option of ``group`` that ``node`` (a resolved config node) came from.

    A node with a ``name`` gives it; ``None`` or an empty node is ``"none"``; otherwise the option file whose leaves
    match most (all of them: its name; some: its name + ``*``; none: the node's ``_target_`` class).
    """
    if node is None or (isinstance(node, Mapping) and not node):
        return "none"
    if isinstance(node, Mapping) and isinstance(node.get("name"), str):
        return node["name"]
    leaves = flatten(node)
    best, best_score = None, (0.0, 0)
    for name, option in _options(str(conf_dir), group):
        if not option:
            continue
        matched = sum(key in leaves and _same(leaves[key], value) for key, value in option.items())
        score = (matched / len(option), matched)
        if score > best_score:
            best, best_score = name, score
    if best is None:
        target = node.get("_target_", "?") if isinstance(node, Mapping) else node
        return str(target).rsplit(".", 1)[-1]
    return best if best_score[0] == 1.0 else f"{best}*"


def run_choices(config: Mapping[str, Any], conf_dir: str | Path) -> dict[str, Any]:
    """A training run's config choices: group options, fold, held-out site, seed, epochs, learning rate."""
    split = config.get("split") or {}
    choices: dict[str, Any] = {"experiment_name": config.get("experiment_name")}
    for group in CHOICE_GROUPS:
        choices[group] = infer_choice(config.get(group), group, conf_dir) if group in config else None
    choices["fold"] = split.get("fold") if isinstance(split, Mapping) else None
    choices["site"] = split.get("site") if isinstance(split, Mapping) else None
    choices["seed"] = config.get("seed")
    choices["max_epochs"] = (config.get("trainer") or {}).get("max_epochs")
    choices["lr"] = (config.get("optimizer") or {}).get("lr")
    return choices
