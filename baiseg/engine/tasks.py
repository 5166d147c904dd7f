"""What the training loop needs to know about a model type: its data, its losses and its validation.

``task_for(cfg)`` returns a ``BAISegTask`` (``model.arch: baiseg``: the paper's three losses on random crops with the
contour label T) or a ``MaskRCNNTask`` (``model.arch: maskrcnn``: torchvision's losses on whole images with instance
targets). The loop in ``baiseg.engine.trainer`` is the same for both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from baiseg.architectures import get_architecture, resolve
from baiseg.config import Config
from baiseg.errors import BaisegError


class BAISegTask:
    """The paper's network: crops with T, L = w_P L_P + w_B L_B + w_S L_S, validation by instance mAP50 after MEP."""

    loss_keys = ("loss", "loss_boundary", "loss_contrast", "loss_sem")
    train_instances = False  # the training samples need no instance masks

    def __init__(self, cfg: Config) -> None:
        from baiseg.losses import BAISegCriterion

        self.cfg = cfg
        self.criterion = BAISegCriterion(cfg.loss)

    def transform(self, model: nn.Module) -> Callable[..., dict]:
        from baiseg.data.transforms import TrainTransform

        mean, std = model.input_norm
        return TrainTransform.from_config(self.cfg.data, mean=mean, std=std)

    collate = None  # default collation: equal-size crops stack into tensors

    @staticmethod
    def to_device(batch: Any, device: torch.device) -> dict[str, torch.Tensor]:
        return {k: v.to(device, non_blocking=True) for k, v in batch.items()}

    def losses(self, net: nn.Module, batch: dict[str, torch.Tensor], iteration: int) -> dict[str, torch.Tensor]:
        return self.criterion(net(batch["image"]), batch, iteration=iteration)

    def resolve_best_metric(self, best_metric: str, has_instances: bool) -> str:
        from baiseg.engine.validate import resolve_best_metric

        if best_metric == "val_map50":
            raise BaisegError("train.best_metric=val_map50 is the Mask R-CNN metric: for BAISeg use auto, "
                              "val_map50_gt, val_map50_model, val_boundary_f or val_miou")
        return resolve_best_metric(best_metric, has_instances)

    def validate(self, model: nn.Module, dataset: Any, device: torch.device) -> dict[str, float]:
        from baiseg.engine.validate import validate

        return validate(model, dataset, self.cfg, device, self.cfg.model.num_classes)


class MaskRCNNTask:
    """Mask R-CNN: whole images with boxes, labels and masks; validation by the mask mAP50 of its own detections."""

    loss_keys = ("loss", "loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg", "loss_mask")
    train_instances = True

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    def transform(self, model: nn.Module) -> Callable[..., dict]:
        from baiseg.data.instance_transforms import InstanceTrainTransform

        return InstanceTrainTransform(hflip=self.cfg.data.hflip)

    @property
    def collate(self) -> Callable:
        from baiseg.data.instance_transforms import collate_list

        return collate_list

    @staticmethod
    def to_device(batch: Any, device: torch.device) -> list[dict[str, torch.Tensor]]:
        return [{k: v.to(device, non_blocking=True) for k, v in s.items()} for s in batch]

    def losses(self, net: nn.Module, batch: list[dict[str, torch.Tensor]], iteration: int) -> dict[str, torch.Tensor]:
        images = [s["image"] for s in batch]
        targets = [{"boxes": s["boxes"], "labels": s["labels"], "masks": s["masks"]} for s in batch]
        parts = net(images, targets)
        out = {k: parts[k] for k in self.loss_keys[1:]}
        out["loss"] = sum(out.values())
        return out

    def resolve_best_metric(self, best_metric: str, has_instances: bool) -> str:
        if not has_instances:
            raise BaisegError("a Mask R-CNN run validates by mask mAP50: data.val needs instance ground truth "
                              "(or set data.val=null)")
        if best_metric not in ("auto", "val_map50"):
            raise BaisegError(f"train.best_metric={best_metric} does not apply to Mask R-CNN: use auto or val_map50")
        return "val_map50"

    def validate(self, model: nn.Module, dataset: Any, device: torch.device) -> dict[str, float]:
        """``{"val_map50"}``: VOC mask mAP^r at IoU 0.5 of the model's detections (0 when undefined), by the
        deployment segmenter (``MaskRCNNPredictor``: images above its ``max_side`` shrunk, as in ``predict``)
        through the one scheduler."""
        from baiseg.engine.validate import validate_segmenter
        from baiseg.rcnn_predictor import MaskRCNNPredictor

        was_training = model.training
        seg = MaskRCNNPredictor(model, list(dataset.class_names), list(dataset.category_ids),
                                mask_thr=self.cfg.model.rcnn.mask_thr, device=str(device))  # eval mode  # fmt: skip
        try:
            ap = validate_segmenter(seg, dataset, self.cfg.train.val_max_images)
        finally:
            model.train(was_training)
        return {"val_map50": ap}


def task_for(cfg: Config) -> BAISegTask | MaskRCNNTask:
    """The task of ``cfg.model.arch`` (the one the architecture registry names, baiseg/architectures.py)."""
    return resolve(get_architecture(cfg.model.arch).task)(cfg)
