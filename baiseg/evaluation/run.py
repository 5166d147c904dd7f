"""The evaluators of every evaluation: ``SubsetEvaluators`` takes each sample and its predicted instances (from the
scheduler's ordered sink in ``evaluate`` (``--predictions`` too), ``demo``, ``sweep`` and the benches) and feeds a
VOC mAP^r and a COCO evaluator per image subset (all images, images with touching instances of one class), so that
several subsets cost one prediction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from baiseg.evaluation.coco import COCOInstanceEvaluator
from baiseg.evaluation.subsets import has_touching_instances
from baiseg.evaluation.voc import VOCInstanceEvaluator
from baiseg.instances import Instances

VOC_KEYS = ("mAP25", "mAP50", "mAP70", "mAP75")
COCO_KEYS = ("AP", "AP50", "AP75")
SUBSETS = ("all", "touching")


def percent(x: float | None) -> float | None:
    """A fraction as percent rounded to 2 places; None for None/NaN."""
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(100.0 * float(x), 2)


class SubsetEvaluators:
    """A VOC mAP^r and (with ``coco``) a COCO evaluator per image subset, fed one sample at a time: the sink of the
    callers that predict through the scheduler (``baiseg evaluate``, ``--predictions`` too, the sweep, ``baiseg
    demo``, the benches).

    Args:
        class_names: K class names; category_ids: K dataset category ids.
        subsets: any of ``"all"`` and ``"touching"``.
        coco: also run the COCO evaluator.

    Raises:
        ValueError: an unknown subset.
    """

    def __init__(self, class_names: list[str], category_ids: list[int], subsets: Sequence[str] = ("all",),
                 coco: bool = True) -> None:  # fmt: skip
        bad = [s for s in subsets if s not in SUBSETS]
        if bad:
            raise ValueError(f"unknown subsets {bad}: use {SUBSETS}")
        k = len(class_names)
        self.subsets = tuple(subsets)
        self.voc = {s: VOCInstanceEvaluator(num_classes=k, class_names=list(class_names)) for s in subsets}
        self.coco = {s: COCOInstanceEvaluator(k, category_ids=list(category_ids), class_names=list(class_names))
                     for s in subsets} if coco else {}  # fmt: skip

    def wanted(self, sample: dict[str, Any], touching: bool | None = None) -> list[str]:
        """The subsets ``sample`` belongs to (``touching``: its precomputed flag, computed when None)."""
        flag = touching

        def is_touching() -> bool:
            nonlocal flag
            if flag is None:
                flag = has_touching_instances(sample)
            return flag

        return [s for s in self.subsets if s == "all" or is_touching()]

    def process(self, sample: dict[str, Any], pred: Instances, subsets: Sequence[str]) -> None:
        """Add one sample's ground truth and predicted instances to the evaluators of ``subsets``."""
        for s in subsets:
            self.voc[s].process(sample, pred)
            if s in self.coco:
                self.coco[s].process(sample, pred)

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per subset: ``{"voc": {mAP25..mAP75 in percent}, "coco": {AP, AP50, AP75 in percent} or None (without
        coco), "images": n, "voc_raw": the VOC evaluator's output, "coco_raw": the COCO evaluator's output or None,
        "coco_evaluator": the COCO evaluator (for its results) or None}``."""
        return {s: _summary(self.voc[s], self.coco.get(s)) for s in self.subsets}


def _summary(voc: VOCInstanceEvaluator, cev: COCOInstanceEvaluator | None) -> dict[str, Any]:
    """One subset's entry of ``SubsetEvaluators.summary`` (metrics in percent, raw outputs, the COCO evaluator or
    None)."""
    v = voc.evaluate()
    c = cev.evaluate() if cev is not None else None
    return {
        "voc": {key: percent(v[key]) for key in VOC_KEYS},
        "coco": {key: percent(c[key]) for key in COCO_KEYS} if c else None,
        "images": v["num_images"],
        "voc_raw": v,
        "coco_raw": c,
        "coco_evaluator": cev,
    }
