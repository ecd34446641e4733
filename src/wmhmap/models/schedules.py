"""Learning-rate schedules not in torch: linear warm-up followed by cosine decay."""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

__all__ = ["warmup_cosine"]


def warmup_cosine(optimizer: Optimizer, warmup_epochs: int, max_epochs: int) -> LambdaLR:
    """Scale the lr linearly from 1/(warmup+1) to 1 over ``warmup_epochs``, then cosine to 0 at ``max_epochs``."""

    def factor(epoch: int) -> float:
        if epoch < warmup_epochs:
            return (epoch + 1) / (warmup_epochs + 1)
        progress = (epoch - warmup_epochs) / max(1, max_epochs - warmup_epochs)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return LambdaLR(optimizer, factor)
