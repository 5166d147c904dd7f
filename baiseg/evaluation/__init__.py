"""Evaluation: VOC mAP^r (protocol in evaluation/voc.py; docs/ARCHITECTURE.md "Evaluators"), COCO AP through
pycocotools, results JSON helpers, image subsets.

Evaluators follow ``reset() / process(gt_sample, prediction) / evaluate() -> dict`` (docs/ARCHITECTURE.md) and return
fractions in [0, 1]; the ``baiseg evaluate`` command prints them in percent.
"""

from baiseg.evaluation.coco import COCOInstanceEvaluator
from baiseg.evaluation.common import EvaluationError
from baiseg.evaluation.results import read_results, results_to_instances, write_results
from baiseg.evaluation.subsets import has_touching_instances, select_touching, touching_pairs
from baiseg.evaluation.voc import VOC_IOU_THRESHOLDS, VOCInstanceEvaluator, mask_iou, voc_ap

__all__ = [
    "COCOInstanceEvaluator",
    "EvaluationError",
    "VOCInstanceEvaluator",
    "VOC_IOU_THRESHOLDS",
    "has_touching_instances",
    "mask_iou",
    "read_results",
    "results_to_instances",
    "select_touching",
    "touching_pairs",
    "voc_ap",
    "write_results",
]
