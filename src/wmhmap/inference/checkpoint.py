"""Load a trained network from a wmhmap checkpoint, with what is needed to preprocess new images."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from torch import nn

import wmhmap.config  # noqa: F401  (resolvers for configs stored in checkpoints)
from wmhmap.errors import InputError

__all__ = ["TrainedModel", "load_trained_model"]


@dataclass
class TrainedModel:
    """A network in eval mode plus its patch size and the preprocessing it was trained with."""

    net: nn.Module
    patch_size: tuple[int, ...]
    preprocessing: dict[str, Any]
    path: Path


def load_trained_model(path: str | Path, device: torch.device | str = "cpu") -> TrainedModel:
    """Rebuild the network stored in a checkpoint written by ``wmhmap-train``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "checkpoint not found")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises many types for a bad file
        raise InputError(path, f"unreadable checkpoint ({type(err).__name__}: {err})") from None
    meta = checkpoint.get("wmhmap")
    if not meta or not meta.get("net") or not meta.get("preprocessing"):
        raise InputError(path, "not a wmhmap checkpoint (no network or preprocessing record)")
    net: nn.Module = instantiate(meta["net"])
    state = {k[len("net."):]: v for k, v in checkpoint["state_dict"].items() if k.startswith("net.")}
    net.load_state_dict(state)
    net.eval().to(device)
    return TrainedModel(net, tuple(meta["patch_size"]), dict(meta["preprocessing"]), path)
