"""Search spaces: a mapping from Hydra override names to distributions, checked up front and sampled
through an Optuna trial.

    space:
      optimizer:
        lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}   # override optimizer.lr
      model.net.num_res_units: {type: int, low: 1, high: 3}      # dotted keys work too
      loss: {type: categorical, choices: [dice_ce, dice_focal]}  # a config group choice
      model.patch_size: {type: categorical, choices: [[32, 32, 32], [64, 64, 64]]}

A distribution is a mapping whose ``type`` is a string; any other mapping is a level of the override
name, so the nested form can be changed from the command line (``space.optimizer.lr.high=0.05``).

A categorical choice that Optuna cannot store (a list or mapping) is offered to Optuna as its Hydra
text (``"[32,32,32]"``) and mapped back to the value itself for the override.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import optuna

from wmhmap.errors import WmhmapError
from wmhmap.sweep.overrides import hydra_value

__all__ = ["SweepConfigError", "Dimension", "parse_space", "suggest_params"]

_KEYS = {
    "float": {"type", "low", "high", "log", "step"},
    "int": {"type", "low", "high", "log", "step"},
    "categorical": {"type", "choices"},
}
_PRIMITIVES = (type(None), bool, int, float, str)


class SweepConfigError(WmhmapError):
    """A sweep config (search space, stage, direction, sampler, pruner, storage) cannot be used."""


@dataclass(frozen=True)
class Dimension:
    """One searched override: ``name`` and its distribution (``kind`` float, int or categorical)."""

    name: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()

    @property
    def labels(self) -> tuple[Any, ...]:
        """The choices as Optuna stores them: primitives as they are, anything else as Hydra text."""
        return tuple(c if isinstance(c, _PRIMITIVES) else hydra_value(c) for c in self.choices)

    def suggest(self, trial: optuna.Trial) -> Any:
        """Draw this dimension's value for ``trial`` (fixed when the trial was enqueued or retried)."""
        if self.kind == "float":
            return trial.suggest_float(self.name, self.low, self.high, log=self.log, step=self.step)
        if self.kind == "int":
            return trial.suggest_int(self.name, self.low, self.high, log=self.log, step=self.step or 1)
        label = trial.suggest_categorical(self.name, self.labels)
        return self.choices[self.labels.index(label)]


def _number(name: str, spec: Mapping[str, Any], key: str, kind: str) -> float | int | None:
    value = spec.get(key)
    if value is None:
        return None
    wanted = int if kind == "int" else (int, float)
    if isinstance(value, bool) or not isinstance(value, wanted):
        raise SweepConfigError(f"space.{name}: {key} must be {'an integer' if kind == 'int' else 'a number'}, "
                               f"got {value!r}")
    return value


def _dimension(name: str, spec: Any) -> Dimension:
    if not isinstance(spec, Mapping):
        raise SweepConfigError(f"space.{name}: expected a mapping such as {{type: float, low: 0.1, high: 1.0}}, "
                               f"got {spec!r}")
    kind = spec.get("type")
    if kind not in _KEYS:
        raise SweepConfigError(f"space.{name}: type must be one of {sorted(_KEYS)}, got {kind!r}")
    unknown = set(spec) - _KEYS[kind]
    if unknown:
        raise SweepConfigError(f"space.{name}: unknown key(s) {sorted(unknown)} for type {kind} "
                               f"(allowed: {sorted(_KEYS[kind])})")
    if kind == "categorical":
        choices = spec.get("choices")
        if isinstance(choices, str | bytes | Mapping) or not choices or not hasattr(choices, "__iter__"):
            raise SweepConfigError(f"space.{name}: choices must be a non-empty list, got {choices!r}")
        choices = tuple(choices)
        labels = Dimension(name, kind, choices=choices).labels
        if len(set(map(repr, labels))) != len(labels):
            raise SweepConfigError(f"space.{name}: choices repeat a value: {list(choices)!r}")
        return Dimension(name, kind, choices=choices)
    low, high = _number(name, spec, "low", kind), _number(name, spec, "high", kind)
    step = _number(name, spec, "step", kind)
    log = spec.get("log", False)
    if low is None or high is None:
        raise SweepConfigError(f"space.{name}: {kind} needs both low and high")
    if low > high:
        raise SweepConfigError(f"space.{name}: low ({low}) is above high ({high})")
    if not isinstance(log, bool):
        raise SweepConfigError(f"space.{name}: log must be true or false, got {log!r}")
    if log and low <= 0:
        raise SweepConfigError(f"space.{name}: a log scale needs low > 0, got {low}")
    if log and step is not None:
        raise SweepConfigError(f"space.{name}: step and log cannot be combined")
    if step is not None and step <= 0:
        raise SweepConfigError(f"space.{name}: step must be positive, got {step}")
    return Dimension(name, kind, low=low, high=high, log=log, step=step)


def _leaves(node: Mapping[str, Any], prefix: str) -> list[tuple[str, Any]]:
    """(override name, distribution) pairs of a nested space, in config order."""
    pairs = []
    for key, child in node.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(child, Mapping) and not isinstance(child.get("type"), str) and child:
            pairs.extend(_leaves(child, name))
        else:
            pairs.append((name, child))
    return pairs


def parse_space(space: Mapping[str, Any] | None) -> list[Dimension]:
    """Check a search space and return its dimensions in config order; errors name the key at fault."""
    if space is None or not isinstance(space, Mapping):
        raise SweepConfigError(f"space must be a mapping from override names to distributions, got {space!r}")
    if not space:
        raise SweepConfigError("space is empty: name at least one override to search, e.g. "
                               "'+space.optimizer.lr={type:float,low:1e-4,high:1e-2,log:true}'")
    return [_dimension(name, spec) for name, spec in _leaves(space, "")]


def suggest_params(trial: optuna.Trial, dimensions: list[Dimension]) -> dict[str, Any]:
    """Draw every dimension for ``trial``: override name -> value."""
    return {dim.name: dim.suggest(trial) for dim in dimensions}
