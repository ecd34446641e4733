"""The segmentation LightningModule: an injected network, loss, optimizer and schedule, validated
on whole volumes by sliding window with the challenge Dice (label 2 masked out)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from monai.inferers import sliding_window_inference
from torch import nn

from wmhmap.evaluation.metrics import dice as challenge_dice

__all__ = ["SegmentationModule"]


class SegmentationModule(pl.LightningModule):
    """Train ``net`` on patches; validate on whole volumes; track the best validation Dice."""

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        patch_size: Sequence[int] = (96, 96, 96),
        sw_batch_size: int = 4,
        sw_overlap: float = 0.5,
        deep_supervision: bool = False,
        net_config: Mapping[str, Any] | None = None,
        n_examples: int = 4,
    ):
        super().__init__()
        self.net = net
        self.loss = loss
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.patch_size = tuple(int(p) for p in patch_size)
        self.sw_batch_size = int(sw_batch_size)
        self.sw_overlap = float(sw_overlap)
        self.deep_supervision = bool(deep_supervision)
        self.net_config = dict(net_config or {})
        self.n_examples = int(n_examples)
        self.best_dice = float("-inf")
        self._val_dice: list[float] = []
        self.last_val_examples: list[dict[str, np.ndarray]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _training_loss(self, output: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        if not (self.deep_supervision and output.dim() == label.dim() + 1):
            return self.loss(output, label)
        # MONAI DynUNet stacks heads on dim 1, all upsampled to full size: weights 1, 1/2, 1/4...
        weights = torch.tensor([0.5**i for i in range(output.shape[1])], device=output.device)
        weights = weights / weights.sum()
        return sum(w * self.loss(output[:, i], label) for i, w in enumerate(weights))

    def training_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self._training_loss(self.net(batch["image"]), batch["label"])
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(batch["image"]))
        return loss

    def predict_volume(self, image: torch.Tensor) -> torch.Tensor:
        """Softmax probabilities of a whole (B, C, X, Y, Z) volume by Gaussian-weighted sliding window."""
        logits = sliding_window_inference(
            image, self.patch_size, self.sw_batch_size, self.net, overlap=self.sw_overlap, mode="gaussian"
        )
        return torch.softmax(logits, dim=1)

    def on_validation_epoch_start(self) -> None:
        self._val_dice = []
        self.last_val_examples = []

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> None:
        probs = self.predict_volume(batch["image"])
        pred = probs.argmax(dim=1)
        label = batch["label"][:, 0]
        for b in range(pred.shape[0]):
            ref, out = label[b].cpu().numpy(), pred[b].cpu().numpy()
            # Challenge convention: class 1 is WMH; label 2 voxels are removed from the prediction.
            self._val_dice.append(challenge_dice(ref == 1, (out == 1) & (ref != 2)))
            if len(self.last_val_examples) < self.n_examples:
                self.last_val_examples.append(
                    {"subject_id": f"{batch['subject_id'][b]} {batch['session'][b]}", "image": batch["image"][b, 0].cpu().numpy(),
                     "reference": ref == 1, "prediction": out == 1}
                )
        loss = self.loss(torch.log(probs.clamp_min(1e-8)), batch["label"])
        self.log("val/loss", loss, on_epoch=True, batch_size=pred.shape[0], sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        scores = [d for d in self._val_dice if np.isfinite(d)]
        mean = float(np.mean(scores)) if scores else 0.0
        self.log("val/dice", mean, prog_bar=True, sync_dist=True)
        if not self.trainer.sanity_checking:
            self.best_dice = max(self.best_dice, mean)
            self.log("val/dice_best", self.best_dice, sync_dist=True)

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # What prediction needs to rebuild the network and preprocess new images the same way.
        datamodule = getattr(self.trainer, "datamodule", None)
        preprocessing = getattr(datamodule, "preprocess_config", None)
        checkpoint["wmhmap"] = {
            "net": self.net_config,
            "patch_size": list(self.patch_size),
            "preprocessing": None if preprocessing is None else preprocessing.to_dict(),
            "best_dice": self.best_dice,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.best_dice = float(checkpoint.get("wmhmap", {}).get("best_dice", float("-inf")))
