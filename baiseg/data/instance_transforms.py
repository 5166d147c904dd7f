"""Training transform for instance models (Mask R-CNN): sample dict -> image in [0, 1] and torchvision targets.

Random horizontal flip only; the scale jitter happens inside the model (``model.rcnn.scale_jitter``), which resizes
every image to a shorter side drawn per batch. Crowd regions and empty masks are left out of the targets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from baiseg.instances import mask_boxes


class InstanceTrainTransform:
    """``(sample, rng) -> {"image": float 3 x H x W in [0, 1], "boxes": N x 4, "labels": int64 N, "masks": uint8
    N x H x W}``.

    Args:
        hflip: flip image and masks left-right with probability 0.5.
    """

    def __init__(self, *, hflip: bool = True) -> None:
        self.hflip = hflip

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, torch.Tensor]:
        inst = sample.get("instances")
        if inst is None:
            from baiseg.errors import DataError

            raise DataError(f"image '{sample.get('path')}' has no instance labels: an instance model (model.arch: "
                            "maskrcnn) trains on a dataset with instances (coco, coco_panoptic, instance_png, voc with "
                            "SegmentationObject, or a 'baiseg pseudo' folder)")
        image = np.asarray(sample["image"])
        masks = np.asarray(inst["masks"], bool)
        keep = ~np.asarray(inst["crowd"], bool) & masks.any(axis=(1, 2))
        masks, labels = masks[keep], np.asarray(inst["classes"], np.int64)[keep]
        if self.hflip and rng.random() < 0.5:
            image, masks = image[:, ::-1], masks[:, :, ::-1]
        img = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float().div_(255.0)
        return {
            "image": img,
            "boxes": torch.from_numpy(mask_boxes(masks)),
            "labels": torch.from_numpy(labels),
            "masks": torch.from_numpy(np.ascontiguousarray(masks, dtype=np.uint8)),
        }


def collate_list(batch: list[dict[str, torch.Tensor]]) -> list[dict[str, torch.Tensor]]:
    """Keep a batch of differently sized samples as a list."""
    return list(batch)
