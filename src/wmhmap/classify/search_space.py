"""Optuna search spaces written in config: ``name -> {type: float|int|categorical, low, high, log, step, choices}``.

A name without ``__`` is a parameter of the classifier (pipeline step ``clf``); ``step__param``
targets another pipeline step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna

__all__ = ["validate_search_space", "suggest_params", "pipeline_param"]

_KEYS = {
    "float": {"type", "low", "high", "log", "step"},
    "int": {"type", "low", "high", "log", "step"},
    "categorical": {"type", "choices"},
}


def validate_search_space(space: Mapping[str, Mapping[str, Any]], source: str = "search_space") -> None:
    """Raise ValueError naming each malformed entry (unknown type or key, low > high, no choices)."""
    problems = []
    for name, spec in space.items():
        kind = spec.get("type")
        if kind not in _KEYS:
            problems.append(f"{name}: type must be one of {sorted(_KEYS)}, got {kind!r}")
            continue
        unknown = set(spec) - _KEYS[kind]
        if unknown:
            problems.append(f"{name}: unknown key(s) {sorted(unknown)} for type {kind}")
        if kind == "categorical":
            if not spec.get("choices"):
                problems.append(f"{name}: categorical needs non-empty choices")
        elif spec.get("low") is None or spec.get("high") is None or spec["low"] > spec["high"]:
            problems.append(f"{name}: needs low <= high, got low={spec.get('low')} high={spec.get('high')}")
    if problems:
        raise ValueError(f"{source} is invalid: " + "; ".join(problems))


def pipeline_param(name: str) -> str:
    """The Pipeline parameter a search-space name sets: ``C`` -> ``clf__C``; ``scale__with_mean`` as is."""
    return name if "__" in name else f"clf__{name}"


def suggest_params(trial: optuna.Trial, space: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """One draw from ``space`` as Pipeline parameters (see ``pipeline_param``)."""
    params: dict[str, Any] = {}
    for name, spec in space.items():
        kind = spec["type"]
        if kind == "float":
            value: Any = trial.suggest_float(name, float(spec["low"]), float(spec["high"]),
                                             log=bool(spec.get("log", False)), step=spec.get("step"))
        elif kind == "int":
            value = trial.suggest_int(name, int(spec["low"]), int(spec["high"]),
                                      log=bool(spec.get("log", False)), step=int(spec.get("step") or 1))
        else:
            value = trial.suggest_categorical(name, list(spec["choices"]))
        params[pipeline_param(name)] = value
    return params
