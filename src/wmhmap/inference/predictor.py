"""The predictor: preprocess a subject as in training, run every fold's network by Gaussian-weighted
sliding window with mirror test-time augmentation, average the softmax, and map the WMH probability
back to the input's own grid."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from monai.inferers import sliding_window_inference
from scipy import ndimage

from wmhmap.inference.checkpoint import TrainedModel, load_trained_model
from wmhmap.preprocessing import PreprocessConfig, preprocess_subject, to_native

__all__ = ["PredictorSettings", "Prediction", "Predictor", "mirror_axes_sets", "remove_small_lesions"]


@dataclass(frozen=True)
class PredictorSettings:
    """Inference knobs (conf/predict.yaml)."""

    overlap: float = 0.5
    sw_batch_size: int = 4
    tta_axes: Sequence[int] = (0, 1, 2)
    threshold: float = 0.5
    min_lesion_voxels: int = 0
    device: str = "auto"


@dataclass
class Prediction:
    """A subject's prediction on its native grid."""

    mask: nib.Nifti1Image
    probability: nib.Nifti1Image
    volume_ml: float


def mirror_axes_sets(axes: Sequence[int]) -> list[tuple[int, ...]]:
    """Every subset of ``axes`` (the empty one first): 2^k mirrored copies of the input."""
    axes = tuple(int(a) for a in axes)
    return [c for r in range(len(axes) + 1) for c in itertools.combinations(axes, r)]


def remove_small_lesions(mask: np.ndarray, min_voxels: int) -> np.ndarray:
    """Drop 26-connected components smaller than ``min_voxels``."""
    if min_voxels <= 1 or not mask.any():
        return mask
    labels, n = ndimage.label(mask, structure=np.ones((3, 3, 3), bool))
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    keep = sizes >= min_voxels
    keep[0] = False
    return keep[labels]


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class Predictor:
    """Predict WMH for manifest rows with an ensemble of checkpoints (e.g. the folds of one experiment)."""

    def __init__(self, checkpoints: Sequence[str | Path], settings: PredictorSettings = PredictorSettings()):
        if not checkpoints:
            raise ValueError("at least one checkpoint is needed")
        self.settings = settings
        self.device = _device(settings.device)
        self.models: list[TrainedModel] = [load_trained_model(p, self.device) for p in checkpoints]
        first = self.models[0]
        for model in self.models[1:]:
            if model.preprocessing != first.preprocessing:
                raise ValueError(
                    f"{model.path} was trained with other preprocessing than {first.path}; "
                    "an ensemble needs one preprocessing"
                )
        self.preprocessing = PreprocessConfig.from_dict(first.preprocessing)

    @torch.inference_mode()
    def _probabilities(self, image: np.ndarray) -> np.ndarray:
        """Mean softmax (K, X, Y, Z) over checkpoints and mirrorings."""
        x = torch.from_numpy(image[None]).to(self.device)
        total, count = None, 0
        autocast = torch.autocast("cuda", dtype=torch.bfloat16) if self.device.type == "cuda" else nullcontext()
        for model in self.models:
            for axes in mirror_axes_sets(self.settings.tta_axes):
                dims = [a + 2 for a in axes]
                xi = torch.flip(x, dims) if dims else x
                with autocast:
                    logits = sliding_window_inference(
                        xi, model.patch_size, self.settings.sw_batch_size, model.net,
                        overlap=self.settings.overlap, mode="gaussian",
                    )
                probs = torch.softmax(logits.float(), dim=1)
                probs = torch.flip(probs, dims) if dims else probs
                total = probs if total is None else total + probs
                count += 1
        return (total / count)[0].cpu().numpy()

    def predict(self, row: Mapping[str, object]) -> Prediction:
        """Predict one manifest row (needs ``flair`` and, if the models use it, ``t1``)."""
        row = {k: v for k, v in row.items() if k not in ("wmh",)}
        pre = preprocess_subject(row, self.preprocessing)
        probs = self._probabilities(pre.image)
        wmh_prob = np.where(pre.brain_mask > 0, probs[1], 0.0).astype(np.float32)
        prob_image = to_native(wmh_prob, pre, order=1)
        prob = np.asarray(prob_image.dataobj, dtype=np.float32)
        mask = remove_small_lesions(prob >= self.settings.threshold, self.settings.min_lesion_voxels)
        mask_image = nib.Nifti1Image(mask.astype(np.uint8), prob_image.affine)
        mask_image.set_qform(prob_image.affine, code=1)
        mask_image.set_sform(prob_image.affine, code=1)
        prob_image = nib.Nifti1Image(prob, prob_image.affine, mask_image.header)
        prob_image.set_data_dtype(np.float32)
        voxel_ml = abs(float(np.linalg.det(prob_image.affine[:3, :3]))) / 1000.0
        return Prediction(mask_image, prob_image, float(mask.sum()) * voxel_ml)

