"""Hydra override strings from Python values: quoting that the Hydra parser reads back exactly, and
merging lists of overrides so that a later value for a key replaces an earlier one."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["hydra_value", "hydra_override", "override_key", "merge_overrides"]

# A string Hydra reads back unchanged without quotes: a name or a path (not a keyword such as true or inf).
_PLAIN = re.compile(r"(?:[A-Za-z_/]|\.{1,2}/)[A-Za-z0-9_\-./]*")
_KEYWORDS = {"true", "false", "null", "nan", "inf"}


def _quoted(text: str) -> str:
    """Single-quote ``text``: backslashes before a quote or at the end are doubled, quotes escaped."""
    text = re.sub(r"(\\+)(?='|$)", lambda m: m.group(1) * 2, text)
    return "'" + text.replace("'", "\\'") + "'"


def hydra_value(value: Any) -> str:
    """The Hydra override text for ``value`` (None, bool, int, float, str, list/tuple, mapping)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    if isinstance(value, str):
        plain = _PLAIN.fullmatch(value) and value.lower() not in _KEYWORDS
        return value if plain else _quoted(value)
    if isinstance(value, Mapping):
        for key in value:
            if not (isinstance(key, str) and _PLAIN.fullmatch(key)):
                raise TypeError(f"cannot write mapping key {key!r} in a Hydra override (use a plain name)")
        return "{" + ",".join(f"{key}:{hydra_value(item)}" for key, item in value.items()) + "}"
    if isinstance(value, Sequence):
        return "[" + ",".join(hydra_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} value {value!r} as a Hydra override")


def hydra_override(key: str, value: Any) -> str:
    """``key=value`` with ``value`` quoted for Hydra (``key`` may carry a ``+``/``++`` prefix)."""
    return f"{key}={hydra_value(value)}"


def override_key(override: str) -> str:
    """The config key an override sets: the text before ``=`` without its ``+``, ``++`` or ``~`` prefix."""
    return override.split("=", 1)[0].lstrip("+~").strip()


def merge_overrides(*groups: Iterable[str]) -> list[str]:
    """Concatenate override lists; a key set again later replaces its earlier value in place."""
    merged: dict[str, str] = {}
    for group in groups:
        for override in group:
            merged[override_key(override)] = override
    return list(merged.values())
