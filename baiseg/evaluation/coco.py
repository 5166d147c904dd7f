"""COCO mask AP through pycocotools (``iouType='segm'``), plus COCOeval at the VOC thresholds as a second view.

Ground truth is gathered from dataset samples (crowd instances become ``iscrowd=1`` regions that COCOeval ignores;
void pixels are left out of the other GT masks, not out of a crowd region, which is void itself in COCO data) and
predictions from ``Instances``, both as compressed RLE; COCOeval runs in memory at
:meth:`COCOInstanceEvaluator.evaluate`. The "VOC view" is COCOeval with ``iouThrs=[.25, .5, .7, .75]``
(how CIM reports VOC): 101-point interpolated precision and greedy matching with fall-back, so it differs slightly
from :mod:`baiseg.evaluation.voc`.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from baiseg.evaluation.common import (
    EvaluationError,
    check_prediction,
    gt_from_sample,
    gt_masks_without_void,
    once,
)
from baiseg.evaluation.voc import VOC_IOU_THRESHOLDS
from baiseg.instances import Instances, coco_results, encode_rle


def _coco_from(images: list[dict], annotations: list[dict], categories: list[dict]) -> COCO:
    coco = COCO()
    coco.dataset = {"images": images, "annotations": annotations, "categories": categories}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _ann(ann_id: int, img_id: int, cat: int, rle: dict, extra: dict) -> dict[str, Any]:
    rle_b = {"size": rle["size"], "counts": rle["counts"].encode("ascii")}
    return {
        "id": ann_id,
        "image_id": img_id,
        "category_id": cat,
        "segmentation": rle_b,
        "area": float(mask_utils.area(rle_b)),
        "bbox": [float(v) for v in mask_utils.toBbox(rle_b)],
        **extra,
    }


def _mean_valid(x: np.ndarray) -> float:
    valid = x[x > -1]
    return float(valid.mean()) if valid.size else float("nan")


class COCOInstanceEvaluator:
    """COCO AP / AP50 / AP75 (segm) over a dataset, fed one image at a time.

    Args:
        num_classes: K thing classes (semantic ids 1..K).
        category_ids: K dataset category ids used in results files (default 1..K).
        class_names: K names (default the category ids as strings).
        max_dets: COCOeval's detection limit per image. None (default): COCO's 100, raised to the largest number of
            ground-truth instances in one processed image when that is larger (dense sets such as DSB nuclei have up
            to 375 per image: a limit of 100 would score every image as if it had at most 100 objects).
    """

    def __init__(
        self,
        num_classes: int | None = None,
        category_ids: list[int] | None = None,
        class_names: list[str] | None = None,
        max_dets: int | None = None,
    ) -> None:
        k = num_classes or (len(category_ids) if category_ids else len(class_names or []))
        self.category_ids = [int(c) for c in category_ids] if category_ids else list(range(1, k + 1))
        self.class_names = list(class_names) if class_names else [str(c) for c in self.category_ids]
        self._fixed_max_dets = None if max_dets is None else int(max_dets)
        self.reset()

    @property
    def max_dets(self) -> int:
        """The detection limit per image in effect (see the constructor)."""
        if self._fixed_max_dets is not None:
            return self._fixed_max_dets
        return max(100, self._max_gt)

    def reset(self) -> None:
        """Forget every processed image."""
        self._images: list[dict[str, Any]] = []
        self._gt: list[dict[str, Any]] = []
        self._dt: list[dict[str, Any]] = []
        self._results: list[dict[str, Any]] = []
        self._max_gt = 0
        self._seen: set[str] = set()

    def _cat(self, cls: int, image_id: str, what: str) -> int:
        if not 1 <= cls <= len(self.category_ids):
            raise EvaluationError(
                f"{what} of image '{image_id}' has class {cls}, outside 1..{len(self.category_ids)}: "
                "use semantic ids of the dataset's classes (0 = background is not an instance)"
            )
        return self.category_ids[cls - 1]

    def process(self, gt_sample: dict[str, Any], prediction: Instances | Mapping[str, Any]) -> None:
        """Add one image: its GT instances (crowd flagged) and the predicted instances.

        Args:
            gt_sample: dataset sample with ``instances`` and ``semantic`` (255 = void).
            prediction: ``Instances`` (masks bool P x H x W, classes 1..K, scores), or a mapping with the same
                three keys (``check_prediction``).
        """
        gt, void = gt_from_sample(gt_sample)
        height, width = gt["masks"].shape[1:] if void is None else void.shape
        image_id = str(gt_sample.get("image_id", len(self._images)))
        pred = check_prediction(prediction, height, width, image_id)
        once(self._seen, gt_sample)
        img_id = len(self._images) + 1
        self._max_gt = max(self._max_gt, int((~np.asarray(gt["crowd"], bool)).sum()))
        self._images.append({"id": img_id, "height": int(height), "width": int(width), "file_name": image_id})
        gt_masks = gt_masks_without_void(gt, void)
        for rle, cls, crowd in zip(encode_rle(gt_masks), gt["classes"], gt["crowd"]):
            cat = self._cat(int(cls), image_id, "ground truth")
            self._gt.append(_ann(len(self._gt) + 1, img_id, cat, rle, {"iscrowd": int(crowd)}))
        for cls in pred.classes:
            self._cat(int(cls), image_id, "prediction")
        entries = coco_results(pred, image_id, self.category_ids)
        for e, score in zip(entries, pred.scores):
            self._dt.append(_ann(len(self._dt) + 1, img_id, e["category_id"], e["segmentation"],
                                 {"iscrowd": 0, "score": float(score)}))  # fmt: skip
        self._results.extend(entries)

    def results(self) -> list[dict[str, Any]]:
        """All processed predictions as COCO results entries (dataset image ids and category ids)."""
        return list(self._results)

    def _run(self, iou_thrs: np.ndarray | None) -> np.ndarray:
        """COCOeval precision array T x R x K x A x M (-1 where a class has no GT)."""
        cats = [{"id": c, "name": n} for c, n in zip(self.category_ids, self.class_names)]
        gt = _coco_from(self._images, self._gt, cats)
        dt = _coco_from(self._images, self._dt, cats)
        ev = COCOeval(gt, dt, iouType="segm")
        if iou_thrs is not None:
            ev.params.iouThrs = np.asarray(iou_thrs, dtype=np.float64)
        ev.params.maxDets = [1, 10, self.max_dets]
        with contextlib.redirect_stdout(io.StringIO()):
            ev.evaluate()
            ev.accumulate()
        return ev.eval["precision"]

    def evaluate(self) -> dict[str, Any]:
        """COCO AP, AP50, AP75 and the VOC-threshold view.

        Returns:
            ``{"AP": float, "AP50": ..., "AP75": ..., "voc_view": {"mAP25": ..., "mAP50": ..., "mAP70": ...,
            "mAP75": ...}, "per_class_AP": {name: AP}, "num_images": int}`` as fractions in [0, 1]; NaN when no class
            has GT (or no image was processed).
        """
        nan = float("nan")
        out: dict[str, Any] = {
            "AP": nan,
            "AP50": nan,
            "AP75": nan,
            "voc_view": {f"mAP{round(t * 100)}": nan for t in VOC_IOU_THRESHOLDS},
            "per_class_AP": {},
            "num_images": len(self._images),
        }
        if not self._images:
            return out
        prec = self._run(None)[..., 0, -1]  # T x R x K at area 'all', max_dets
        thrs = np.linspace(0.5, 0.95, 10)
        out["AP"] = _mean_valid(prec)
        out["AP50"] = _mean_valid(prec[np.isclose(thrs, 0.5)])
        out["AP75"] = _mean_valid(prec[np.isclose(thrs, 0.75)])
        column = {c: k for k, c in enumerate(sorted(self.category_ids))}  # COCOeval's K axis: ids in ascending order
        names = zip(self.category_ids, self.class_names)
        out["per_class_AP"] = {n: _mean_valid(prec[:, :, column[c]]) for c, n in names}
        voc = self._run(np.asarray(VOC_IOU_THRESHOLDS))[..., 0, -1]
        out["voc_view"] = {f"mAP{round(t * 100)}": _mean_valid(voc[i]) for i, t in enumerate(VOC_IOU_THRESHOLDS)}
        return out
