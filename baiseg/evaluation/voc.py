"""PASCAL VOC instance-segmentation mAP^r (the protocol IRNet and BESTIE report; docs/ARCHITECTURE.md "Evaluators").

Per image and class, predictions are sorted by score; each prediction's candidate is the ground-truth (GT) instance of
its class with the highest mask IoU (over the whole image; void pixels belong to no GT mask but a crowd region, so a
prediction covering them pays for them in the union). It is a true positive when that IoU reaches the threshold and the
GT is not yet taken, otherwise a false positive (no fall-back to the second-best GT). Over the dataset, all predictions
of a class are sorted by score, cumulative TP/FP give precision and recall (``n_pos`` = number of GT instances), and AP
is the area under the monotone precision envelope at every recall change. mAP is the mean over the classes that have GT;
a class with GT and no prediction scores 0. Crowd GT instances (COCO data) are VOC's "difficult" objects, as in
chainercv's ``eval_instance_segmentation_voc``: they do not count in ``n_pos``, but they take part in the arg-max, and a
prediction whose best-IoU GT is a crowd region of its class at the threshold is ignored (neither TP nor FP). Equal
scores keep the order in which predictions were processed (a stable sort, as COCOeval's).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import numpy as np

from baiseg.evaluation.common import (
    EvaluationError,
    check_prediction,
    gt_from_sample,
    gt_masks_without_void,
    once,
)
from baiseg.instances import Instances

VOC_IOU_THRESHOLDS: tuple[float, ...] = (0.25, 0.5, 0.7, 0.75)


def mask_iou(pred_masks: np.ndarray, gt_masks: np.ndarray) -> np.ndarray:
    """Pairwise IoU of two sets of masks through a matrix product of flattened masks.

    Args:
        pred_masks: bool N x H x W.
        gt_masks: bool M x H x W.

    Returns:
        float64 N x M IoUs in [0, 1] (0 where both masks are empty).
    """
    n, m = len(pred_masks), len(gt_masks)
    if n == 0 or m == 0:
        return np.zeros((n, m), dtype=np.float64)
    # pixels outside every mask add nothing: crop to the bounding box of all of them first
    rows = pred_masks.any(axis=(0, 2)) | gt_masks.any(axis=(0, 2))
    cols = pred_masks.any(axis=(0, 1)) | gt_masks.any(axis=(0, 1))
    if not rows.any():
        return np.zeros((n, m), dtype=np.float64)
    y0, y1 = np.flatnonzero(rows)[[0, -1]]
    x0, x1 = np.flatnonzero(cols)[[0, -1]]
    p = pred_masks[:, y0 : y1 + 1, x0 : x1 + 1].reshape(n, -1).astype(np.float32)
    g = gt_masks[:, y0 : y1 + 1, x0 : x1 + 1].reshape(m, -1).astype(np.float32)
    inter = (p @ g.T).astype(np.float64)  # exact: counts stay far below 2**24 per row for images up to 16 Mpx
    union = p.sum(1, dtype=np.float64)[:, None] + g.sum(1, dtype=np.float64)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match_image_class(ious: np.ndarray, iou_thr: float, crowd: np.ndarray | None = None) -> np.ndarray:
    """VOC matching of the score-sorted predictions of one class in one image.

    Args:
        ious: float N x M IoUs of the N predictions (sorted by decreasing score) with the M GT instances.
        iou_thr: IoU threshold in (0, 1].
        crowd: bool M, True for the crowd ("difficult") GT regions; None: none.

    Returns:
        int8 N: 1 for a true positive, 0 for a false positive, -1 for a prediction ignored (its best GT is a crowd
        region and their IoU reaches the threshold).
    """
    n, m = ious.shape
    hit = np.zeros(n, dtype=np.int8)
    if m == 0:
        return hit
    crowd = np.zeros(m, bool) if crowd is None else np.asarray(crowd, bool)
    best = ious.argmax(axis=1)
    ok = ious[np.arange(n), best] >= iou_thr
    taken = np.zeros(m, dtype=bool)
    for i in range(n):
        if not ok[i]:
            continue
        hit[i] = -1 if crowd[best[i]] else int(not taken[best[i]])
        taken[best[i]] = True
    return hit


def voc_ap(scores: np.ndarray, tp: np.ndarray, n_pos: int) -> float:
    """Area under the monotone precision envelope of one class (VOC 2010+ / chainercv, not 11-point).

    Args:
        scores: float K scores of all predictions of the class over the dataset.
        tp: bool K, True for the true positives.
        n_pos: number of GT instances of the class.

    Returns:
        AP in [0, 1]; NaN when ``n_pos == 0``.
    """
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    hits = np.asarray(tp, dtype=bool)[order]
    ctp = np.cumsum(hits)
    cfp = np.cumsum(~hits)
    prec = ctp / np.maximum(ctp + cfp, 1)
    rec = ctp / n_pos
    mpre = np.concatenate([[0.0], prec, [0.0]])
    mrec = np.concatenate([[0.0], rec, [1.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    change = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[change + 1] - mrec[change]) * mpre[change + 1]))


class VOCInstanceEvaluator:
    """VOC mAP^r over a dataset, fed one image at a time.

    Args:
        num_classes: K, the number of thing classes (semantic ids 1..K); a prediction of a class beyond K is
            refused (EvaluationError), as the COCO evaluator does.
        class_names: optional K names used in the per-class output.
        iou_thresholds: IoU thresholds (default 0.25, 0.5, 0.7, 0.75).

    Example:
        >>> ev = VOCInstanceEvaluator(num_classes=20)
        >>> for sample, pred in pairs:
        ...     ev.process(sample, pred)
        >>> ev.evaluate()["mAP50"]
    """

    def __init__(
        self,
        num_classes: int | None = None,
        class_names: list[str] | None = None,
        iou_thresholds: tuple[float, ...] = VOC_IOU_THRESHOLDS,
    ) -> None:
        self.num_classes = num_classes if num_classes is not None else (len(class_names) if class_names else None)
        self.class_names = list(class_names) if class_names else None
        self.iou_thresholds = tuple(float(t) for t in iou_thresholds)
        self.reset()

    def reset(self) -> None:
        """Forget every processed image."""
        self._n_pos: dict[int, int] = defaultdict(int)
        self._scores: dict[int, list[np.ndarray]] = defaultdict(list)
        self._tp: dict[int, list[np.ndarray]] = defaultdict(list)  # each int8 K_i x T: 1 TP, 0 FP, -1 ignored
        self.num_images = 0
        self._seen: set[str] = set()

    def process(self, gt_sample: dict[str, Any], prediction: Instances | Mapping[str, Any]) -> None:
        """Match the predictions of one image with its GT.

        Args:
            gt_sample: dataset sample with ``instances`` (masks bool N x H x W, classes int N in 1..K, crowd bool N)
                and ``semantic`` (uint8 H x W, 255 = void) — void pixels are removed from every GT mask but the
                crowd regions.
            prediction: ``Instances`` (masks bool P x H x W, classes 1..K, scores), or a mapping with the same
                three keys (``check_prediction``).

        Raises:
            EvaluationError: missing instance GT, or prediction masks of another size than the image.
        """
        gt, void = gt_from_sample(gt_sample)
        height, width = gt["masks"].shape[1:] if void is None else void.shape
        pred = check_prediction(prediction, height, width, str(gt_sample.get("image_id", "?")))
        once(self._seen, gt_sample)
        if self.num_classes and pred.classes.size and pred.classes.max() > self.num_classes:
            raise EvaluationError(f"prediction for image '{gt_sample.get('image_id', '?')}' has class "
                                  f"{pred.classes.max()}, above the {self.num_classes} classes: use the dataset's "
                                  "semantic ids 1..K")  # fmt: skip
        gt_masks, gt_classes, crowd = gt_masks_without_void(gt, void), gt["classes"], gt["crowd"]
        self.num_images += 1
        for cls in np.union1d(gt_classes, pred.classes):
            cls = int(cls)
            of_cls = gt_classes == cls
            self._n_pos[cls] += int((of_cls & ~crowd).sum())
            sel = np.where(pred.classes == cls)[0]
            if len(sel) == 0:
                continue
            sel = sel[np.argsort(-pred.scores[sel], kind="stable")]
            ious = mask_iou(pred.masks[sel], gt_masks[of_cls])
            hit = np.stack([match_image_class(ious, t, crowd[of_cls]) for t in self.iou_thresholds], axis=1)
            self._scores[cls].append(pred.scores[sel])
            self._tp[cls].append(hit)  # 1 TP, 0 FP, -1 ignored

    def _classes(self) -> list[int]:
        seen = set(self._n_pos) | set(self._scores)
        upto = self.num_classes or 0
        return sorted(seen | set(range(1, upto + 1)))

    def evaluate(self) -> dict[str, Any]:
        """AP per class and mAP at each IoU threshold.

        Returns:
            ``{"mAP25": float, "mAP50": ..., "mAP70": ..., "mAP75": ...`` (fractions in [0, 1], NaN when no class has
            GT), ``"per_class": {name: {"mAP25": ap, ...}}`` (NaN for classes without GT), ``"num_images": int,
            "num_gt": int}``. Keys are ``mAP`` + the threshold in percent.
        """
        classes = self._classes()
        aps = np.full((len(classes), len(self.iou_thresholds)), np.nan)
        for row, cls in enumerate(classes):
            n_pos = self._n_pos.get(cls, 0)
            if n_pos == 0:
                continue
            scores = np.concatenate(self._scores[cls]) if self._scores.get(cls) else np.zeros(0)
            hits = np.concatenate(self._tp[cls]) if self._tp.get(cls) else np.zeros((0, len(self.iou_thresholds)))
            for col in range(len(self.iou_thresholds)):
                counted = hits[:, col] >= 0
                aps[row, col] = voc_ap(scores[counted], hits[counted, col] == 1, n_pos)
        keys = [f"mAP{round(t * 100)}" for t in self.iou_thresholds]
        out: dict[str, Any] = {}
        has_gt = ~np.isnan(aps[:, 0]) if len(classes) else np.zeros(0, bool)
        for col, key in enumerate(keys):
            out[key] = float(aps[has_gt, col].mean()) if has_gt.any() else float("nan")
        out["per_class"] = {self._name(cls): dict(zip(keys, map(float, aps[row]))) for row, cls in enumerate(classes)}
        out["num_images"] = self.num_images
        out["num_gt"] = int(sum(self._n_pos.values()))
        return out

    def _name(self, cls: int) -> str:
        if self.class_names and 1 <= cls <= len(self.class_names):
            return self.class_names[cls - 1]
        return str(cls)
