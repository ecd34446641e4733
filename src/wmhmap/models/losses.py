"""Segmentation losses with the challenge's label 2 ("other pathology") either ignored or a class.

A region loss from MONAI (Dice, Tversky, generalised Dice) is applied to softmax probabilities,
optionally plus a voxel loss (cross-entropy or focal). In ``ignore`` mode, voxels labelled 2 are
masked out of both terms; in ``class`` mode label 2 is a third output class.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SegmentationLoss", "num_classes"]

Label2Mode = Literal["ignore", "class"]


def num_classes(label2: Label2Mode) -> int:
    """Output channels: background + WMH, plus other pathology when it is trained as a class."""
    if label2 not in ("ignore", "class"):
        raise ValueError(f"label2 must be 'ignore' or 'class', got {label2!r}")
    return 3 if label2 == "class" else 2


class SegmentationLoss(nn.Module):
    """``region(softmax(logits), onehot(target))`` + ``pixel_weight`` x cross-entropy or focal loss."""

    def __init__(
        self,
        region: nn.Module | None,
        pixel: Literal["ce", "focal", "none"] = "ce",
        pixel_weight: float = 1.0,
        focal_gamma: float = 2.0,
        label2: Label2Mode = "ignore",
    ):
        super().__init__()
        if region is None and pixel == "none":
            raise ValueError("a loss needs a region term, a pixel term or both")
        self.region = region
        self.pixel = pixel
        self.pixel_weight = float(pixel_weight)
        self.focal_gamma = float(focal_gamma)
        self.label2 = label2
        self.num_classes = num_classes(label2)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``logits`` (B, K, ...), ``target`` (B, 1, ...) integer labels 0/1/2."""
        target = target[:, 0].long()
        if self.label2 == "ignore":
            valid = target != 2
            target = torch.where(valid, target, torch.zeros_like(target))
        else:
            valid = torch.ones_like(target, dtype=torch.bool)
        weight = valid.unsqueeze(1).to(logits.dtype)
        loss = logits.new_zeros(())
        if self.region is not None:
            probs = torch.softmax(logits, dim=1) * weight
            onehot = F.one_hot(target, self.num_classes).movedim(-1, 1).to(logits.dtype) * weight
            loss = loss + self.region(probs, onehot)
        if self.pixel != "none":
            log_p = torch.log_softmax(logits, dim=1)
            nll = -log_p.gather(1, target.unsqueeze(1))[:, 0]
            if self.pixel == "focal":
                nll = (1 - torch.exp(-nll)) ** self.focal_gamma * nll
            count = valid.sum().clamp_min(1)
            loss = loss + self.pixel_weight * (nll * valid).sum() / count
        return loss
