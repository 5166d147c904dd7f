"""Validation during training: boundary F-score (fixed threshold, small pixel tolerance) and semantic mIoU.

These are quick training-time monitors on full-resolution images, not the instance-level evaluation of
``baiseg evaluate`` (mAP^r / COCO AP).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from baiseg.config import Config


def preprocess(image: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...], multiple: int = 32) -> torch.Tensor:
    """uint8 H x W x 3 RGB -> float32 1 x 3 x H' x W' normalised, zero-padded bottom/right to a multiple of 32."""
    x = torch.from_numpy(np.array(image, dtype=np.float32)).permute(2, 0, 1)
    x = (x - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
    h, w = x.shape[-2:]
    return F.pad(x, (0, (-w) % multiple, 0, (-h) % multiple))[None]


class BoundarySemanticMeter:
    """Accumulates boundary precision/recall (with tolerance) and a semantic confusion matrix over images.

    Args:
        num_classes: semantic outputs K + 1.
        tolerance_px: a predicted boundary pixel is correct within this distance (square) of a label pixel.
    """

    def __init__(self, num_classes: int, tolerance_px: int = 2) -> None:
        self.num_classes = num_classes
        self.kernel = np.ones((2 * tolerance_px + 1, 2 * tolerance_px + 1), np.uint8)
        self.tp_p = self.n_pred = self.tp_r = self.n_gt = 0
        self.confusion = np.zeros((num_classes, num_classes), np.int64)

    def update(
        self, pred_boundary: np.ndarray, contour: np.ndarray, pred_sem: np.ndarray, semantic: np.ndarray
    ) -> None:
        """Add one image: bool H x W prediction, uint8 contour label (0/1/255), int H x W class maps (255 ignore)."""
        valid = contour != 255
        gt = (contour == 1) & valid
        pred = pred_boundary & valid
        gt_d = cv2.dilate(gt.astype(np.uint8), self.kernel).astype(bool)
        pred_d = cv2.dilate(pred.astype(np.uint8), self.kernel).astype(bool)
        self.tp_p += int((pred & gt_d).sum())
        self.n_pred += int(pred.sum())
        self.tp_r += int((gt & pred_d).sum())
        self.n_gt += int(gt.sum())
        ok = semantic != 255
        k = self.num_classes
        idx = semantic[ok].astype(np.int64) * k + np.clip(pred_sem[ok].astype(np.int64), 0, k - 1)
        self.confusion += np.bincount(idx, minlength=k * k).reshape(k, k)

    def compute(self) -> dict[str, float]:
        p = self.tp_p / self.n_pred if self.n_pred else 0.0
        r = self.tp_r / self.n_gt if self.n_gt else 0.0
        f = 2 * p * r / (p + r) if p + r > 0 else 0.0
        inter = np.diag(self.confusion).astype(np.float64)
        union = self.confusion.sum(0) + self.confusion.sum(1) - inter
        present = union > 0
        miou = float((inter[present] / union[present]).mean()) if present.any() else 0.0
        return {"val_boundary_f": f, "val_boundary_p": p, "val_boundary_r": r, "val_miou": miou}


@torch.no_grad()
def validate(model: nn.Module, dataset: Any, cfg: Config, device: torch.device, num_classes: int) -> dict[str, float]:
    """Run the model on (up to ``train.val_max_images``) validation images at their original resolution.

    Returns:
        ``{"val_boundary_f", "val_boundary_p", "val_boundary_r", "val_miou"}``, each in [0, 1].
    """
    from baiseg.data.contour import semantic_contour

    was_training = model.training
    model.eval()
    mean, std = getattr(model, "input_norm", ((127.0,) * 3, (128.0,) * 3))
    meter = BoundarySemanticMeter(num_classes, cfg.train.val_tolerance_px)
    n = len(dataset) if cfg.train.val_max_images <= 0 else min(len(dataset), cfg.train.val_max_images)
    c = cfg.data.contour
    for i in range(n):
        sample = dataset[i]
        h, w = sample["semantic"].shape
        out = model(preprocess(sample["image"], mean, std).to(device))
        prob = torch.sigmoid(out["boundary_logits"][0, 0, :h, :w].float()).cpu().numpy()
        pred_sem = out["sem_logits"][0, :, :h, :w].argmax(0).cpu().numpy()
        contour = semantic_contour(sample["semantic"], neighbourhood=c.neighbourhood,
                                   void_as_boundary=c.void_as_boundary, width_px=c.width_px)
        meter.update(prob > cfg.train.val_boundary_thr, contour, pred_sem, sample["semantic"])
    model.train(was_training)
    return meter.compute()
