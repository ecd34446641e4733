"""Run a 2D network on 3D tensors whose last spatial axis has size 1 (axial slices)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Slicewise"]


class Slicewise(nn.Module):
    """Wrap a 2D network so that (B, C, X, Y, Z) inputs are processed as B*Z slices of (C, X, Y)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, sx, sy, sz = x.shape
        slices = x.permute(0, 4, 1, 2, 3).reshape(b * sz, c, sx, sy)
        out = self.net(slices)
        return out.reshape(b, sz, out.shape[1], sx, sy).permute(0, 2, 3, 4, 1)
