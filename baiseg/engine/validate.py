"""Validation during training: instance mAP50 (the task), boundary F-score against the contour label T, semantic mIoU.

When the validation set has instance ground truth, each image's network output goes through the Mask Extraction
Pipeline twice, with the ground-truth semantic map and with the model's own arg-max map, and VOC mAP^r at IoU 0.5 is
measured for both (what ``baiseg evaluate --semantic gt|model`` reports, here at each image's full resolution). The
boundary F-score and the mIoU are secondary, cheaper monitors.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from baiseg.config import Config
from baiseg.errors import BaisegError
from baiseg.instances import Instances

MAP_KEYS = ("val_map50_gt", "val_map50_model")  # instance mAP50 with GT semantics / with the model's semantics


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
        """``{"val_boundary_f", "val_boundary_p", "val_boundary_r", "val_miou"}``, each in [0, 1] (0 when undefined)."""
        p = self.tp_p / self.n_pred if self.n_pred else 0.0
        r = self.tp_r / self.n_gt if self.n_gt else 0.0
        f = 2 * p * r / (p + r) if p + r > 0 else 0.0
        inter = np.diag(self.confusion).astype(np.float64)
        union = self.confusion.sum(0) + self.confusion.sum(1) - inter
        present = union > 0
        miou = float((inter[present] / union[present]).mean()) if present.any() else 0.0
        return {"val_boundary_f": f, "val_boundary_p": p, "val_boundary_r": r, "val_miou": miou}


class InstanceMeter:
    """Instance mAP50 of the MEP output with ground-truth semantics and with the model's semantics.

    Args:
        class_names: the K thing classes (semantic ids 1..K).
    """

    def __init__(self, class_names: list[str]) -> None:
        from baiseg.evaluation import VOCInstanceEvaluator

        names = list(class_names)
        self.evaluators = {key: VOCInstanceEvaluator(len(names), names, iou_thresholds=(0.5,)) for key in MAP_KEYS}

    def update(self, sample: dict[str, Any], found: dict[str, Instances]) -> None:
        """Add one image.

        Args:
            sample: dataset sample with ``semantic`` (uint8 H x W, 255 void) and ``instances``
                (docs/ARCHITECTURE.md).
            found: ``{"val_map50_gt": Instances with the GT semantics, "val_map50_model": with the model's}``.
        """
        for key in MAP_KEYS:
            self.evaluators[key].process(sample, found[key])

    def compute(self) -> dict[str, float]:
        """``{"val_map50_gt", "val_map50_model"}`` in [0, 1]; 0 when undefined (no ground-truth instance)."""
        out = {}
        for key, ev in self.evaluators.items():
            ap = ev.evaluate()["mAP50"]
            out[key] = ap if math.isfinite(ap) else 0.0
        return out


def has_instance_gt(dataset: Any) -> bool:
    """True when the dataset's samples carry instance ground truth (judged on the first sample)."""
    return len(dataset) > 0 and dataset[0].get("instances") is not None


def resolve_best_metric(best_metric: str, has_instances: bool) -> str:
    """The validation key that keeps ``best.safetensors``.

    Args:
        best_metric: ``train.best_metric`` (``auto`` or a key of ``validate``'s result).
        has_instances: whether the validation set has instance ground truth.

    Raises:
        BaisegError: an instance metric was asked for but the validation set has no instances.
    """
    if best_metric == "auto":
        return MAP_KEYS[0] if has_instances else "val_boundary_f"
    if best_metric in MAP_KEYS and not has_instances:
        raise BaisegError(
            f"train.best_metric={best_metric} needs instance ground truth, which data.val has none of: "
            "use train.best_metric=auto (or val_boundary_f), or a validation set with instances"
        )
    return best_metric


def validate(model: nn.Module, dataset: Any, cfg: Config, device: torch.device, num_classes: int) -> dict[str, float]:
    """Run the model on (up to ``train.val_max_images``) validation images at their original resolution.

    The images go through the one scheduler (``baiseg.inference.scheduler.run``) with ``ValidationSegmenter``: the
    network in this process, the MEP in a background thread. The model is put in eval mode and given back in the
    mode it had; no random number generator is used.

    Args:
        model: network with the forward contract of docs/ARCHITECTURE.md (not DDP-wrapped).
        dataset: samples as in docs/ARCHITECTURE.md, with ``class_names`` (K names).
        cfg: the run's config (``train.val_*``, ``data.contour`` and ``mep`` are read).
        device: where the model lives.
        num_classes: semantic outputs K + 1.

    Returns:
        ``{"val_boundary_f", "val_boundary_p", "val_boundary_r", "val_miou"}`` and, when the samples have instance
        ground truth, ``{"val_map50_gt", "val_map50_model"}`` (VOC mAP^r at IoU 0.5); each in [0, 1].
    """
    from baiseg.data.contour import semantic_contour
    from baiseg.inference.scheduler import run
    from baiseg.predictor import Predictor
    from baiseg.segmenter import FULL_SIZE

    was_training = model.training
    t, c = cfg.train, cfg.data.contour
    predictor = Predictor(model, list(dataset.class_names), mep=cfg.mep, device=str(device),
                          max_side=FULL_SIZE)  # the image at its own size; sets eval mode  # fmt: skip
    meter = BoundarySemanticMeter(num_classes, t.val_tolerance_px)
    instances = InstanceMeter(list(dataset.class_names))
    seen = []

    def sink(p: Any, found: Any, extras: dict[str, Any]) -> None:
        sample = p.extras["sample"]
        contour = semantic_contour(sample["semantic"], neighbourhood=c.neighbourhood, void_fill_px=c.void_fill_px,
                                   void_as_boundary=c.void_as_boundary, width_px=c.width_px)  # fmt: skip
        meter.update(extras["pred_boundary"], contour, extras["pred_sem"], sample["semantic"])
        if sample.get("instances") is not None:
            seen.append(True)
            instances.update(sample, {MAP_KEYS[0]: extras["instances_gt"], MAP_KEYS[1]: found})

    n = len(dataset) if t.val_max_images <= 0 else min(len(dataset), t.val_max_images)
    try:
        run(range(n), ValidationSegmenter(predictor, t.val_boundary_thr), sink, read=_SampleReader(dataset))
    finally:
        model.train(was_training)
    return {**meter.compute(), **(instances.compute() if seen else {})}



def validate_segmenter(segmenter: Any, dataset: Any, limit: int = 0) -> float:
    """VOC mask mAP^r at IoU 0.5 (a fraction; 0 when undefined) of a segmenter's instances on the first ``limit``
    samples of ``dataset`` (0: all), through the one scheduler (Mask R-CNN's validation)."""
    from baiseg.evaluation import VOCInstanceEvaluator
    from baiseg.inference.scheduler import run

    ev = VOCInstanceEvaluator(num_classes=len(dataset.class_names), class_names=list(dataset.class_names))
    n = len(dataset) if limit <= 0 else min(limit, len(dataset))
    run(range(n), segmenter, lambda p, found, extras: ev.process(p.extras["sample"], found),
        read=_SampleReader(dataset))  # fmt: skip
    ap = ev.evaluate()["mAP50"]
    return float(ap) if math.isfinite(ap) else 0.0


class _SampleReader:
    """``i -> Item`` of a dataset sample: its image, its GT semantic map, the sample itself in ``extras``."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __call__(self, i: int) -> Any:
        from baiseg.inference.protocol import Item

        s = self.dataset[i]
        light = {k: s.get(k) for k in ("semantic", "instances", "image_id")}
        return Item(index=i, image_id=str(s.get("image_id", i)), image=s["image"], semantic=None,
                    extras={"sample": light})  # fmt: skip


class ValidationSegmenter:
    """BAISeg validation as a two-stage segmenter: ``forward`` runs the network once per image and makes two MEP
    jobs (with the GT semantic map and with the model's own); ``finish`` runs both and gives the model-semantics
    instances, with the GT-semantics ones, the thresholded boundary map and the arg-max map in ``job.extras``."""

    def __init__(self, predictor: Any, boundary_thr: float) -> None:
        self.predictor, self.boundary_thr = predictor, boundary_thr
        self.class_names = predictor.class_names
        self.preparer = predictor.preparer

    def prepare(self, item: Any) -> Any:
        return self.preparer(item)

    def forward(self, batch: list[Any]) -> list[Any]:
        from baiseg.inference.protocol import Job

        jobs = []
        for p in batch:  # one image per forward pass: the outputs of single images
            maps = self.predictor.infer(p.work)
            sample, size = p.extras["sample"], p.rgb.shape[:2]
            data = {"pred_boundary": maps["boundary_prob"] > self.boundary_thr, "pred_sem": maps["sem_prob"].argmax(0)}
            if sample.get("instances") is not None:
                data["gt"] = self.predictor.job_from_maps(maps, size, semantic=sample["semantic"], image=p.rgb)
                data["model"] = self.predictor.job_from_maps(maps, size, image=p.rgb)
            jobs.append(Job(index=p.index, image_id=p.image_id, size=size, data=data))
        return jobs

    @staticmethod
    def finish(job: Any) -> Any:
        from baiseg.instances import Instances
        from baiseg.predictor import Predictor

        d = job.data
        job.extras.update(pred_boundary=d["pred_boundary"], pred_sem=d["pred_sem"])
        if "gt" not in d:
            return Instances.empty(*job.size)
        job.extras["instances_gt"] = Predictor.finish(d["gt"])
        return Predictor.finish(d["model"])
