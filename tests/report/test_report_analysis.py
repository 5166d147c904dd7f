"""Per-image error counts (missed, false, split, merged at IoU 0.5) on hand-built masks, and PR curves / AP against
the VOC evaluator."""

from __future__ import annotations

import numpy as np
import pytest

from baiseg.evaluation.voc import VOCInstanceEvaluator
from baiseg.instances import Instances
from baiseg.report.analysis import analyse_image, pr_curve, total_errors


def _box(y0: int, x0: int, y1: int, x1: int, shape: tuple[int, int] = (40, 40)) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[y0:y1, x0:x1] = True
    return m


def _inst(masks: list[np.ndarray], classes: list[int], scores: list[float] | None = None) -> dict:
    return {"masks": np.array(masks, bool).reshape(-1, 40, 40), "classes": np.array(classes, np.int64),
            "scores": np.array(scores if scores is not None else [0.9] * len(masks), np.float32),
            "crowd": np.zeros(len(masks), bool)}  # fmt: skip


def _pred(masks: list[np.ndarray], classes: list[int], scores: list[float] | None = None) -> Instances:
    gt = _inst(masks, classes, scores)
    return Instances(gt["masks"], gt["classes"], gt["scores"])


A, B = _box(0, 0, 10, 10), _box(0, 12, 10, 22)  # two GT boxes side by side


def test_exact_predictions_have_no_error() -> None:
    a = analyse_image(_pred([A, B], [1, 1]), _inst([A, B], [1, 1]))
    assert a["errors"] == {"missed": 0, "false": 0, "split": 0, "merged": 0}
    assert [p["kind"] for p in a["pred"]] == ["tp", "tp"] and [p["iou"] for p in a["pred"]] == [1.0, 1.0]


def test_missed_and_false() -> None:
    far = _box(30, 30, 38, 38)
    a = analyse_image(_pred([A, far], [1, 1]), _inst([A, B], [1, 1]))
    assert a["errors"] == {"missed": 1, "false": 1, "split": 0, "merged": 0}
    assert [g["kind"] for g in a["gt"]] == ["tp", "missed"]
    assert a["pred"][1]["kind"] == "false" and a["pred"][1]["iou"] == 0.0


def test_wrong_class_is_missed_and_false() -> None:
    a = analyse_image(_pred([A], [2]), _inst([A], [1]))
    assert a["errors"] == {"missed": 1, "false": 1, "split": 0, "merged": 0}


def test_one_gt_cut_in_three_is_one_split() -> None:
    big = _box(0, 0, 20, 20)
    thirds = [_box(0, 0, 20, 7), _box(0, 7, 20, 14), _box(0, 14, 20, 20)]
    a = analyse_image(_pred(thirds, [1, 1, 1]), _inst([big], [1]))
    assert a["errors"] == {"missed": 0, "false": 0, "split": 1, "merged": 0}
    assert [p["kind"] for p in a["pred"]] == ["piece"] * 3  # no third reaches IoU 0.5
    assert a["gt"][0]["kind"] == "split" and a["gt"][0]["iou"] == pytest.approx(0.35)


def test_split_with_one_matching_piece() -> None:
    a = analyse_image(_pred([_box(0, 0, 20, 14), _box(0, 14, 20, 20)], [1, 1]), _inst([_box(0, 0, 20, 20)], [1]))
    assert a["errors"] == {"missed": 0, "false": 0, "split": 1, "merged": 0}
    assert [p["kind"] for p in a["pred"]] == ["tp", "piece"]


def test_two_gt_joined_is_one_merge() -> None:
    a = analyse_image(_pred([A | B], [1]), _inst([A, B], [1, 1]))
    assert a["errors"] == {"missed": 0, "false": 0, "split": 0, "merged": 1}
    assert [g["kind"] for g in a["gt"]] == ["tp", "merged"]  # A | B still matches A at IoU 0.5
    assert a["pred"][0]["kind"] == "merged" and total_errors(a["errors"]) == 1
    c = _box(0, 24, 10, 34)
    a = analyse_image(_pred([A | B | c], [1]), _inst([A, B, c], [1, 1, 1]))
    assert a["errors"] == {"missed": 0, "false": 0, "split": 0, "merged": 1}
    assert [g["kind"] for g in a["gt"]] == ["merged"] * 3


def test_crowd_gt_counts_nowhere() -> None:
    gt = _inst([A, B], [1, 1])
    gt["crowd"] = np.array([False, True])
    a = analyse_image(_pred([A, B], [1, 1]), gt)
    assert a["errors"] == {"missed": 0, "false": 0, "split": 0, "merged": 0}
    assert [p["tp"] for p in a["pred"]] == [1, -1]


def test_no_prediction_and_no_gt() -> None:
    empty = _inst([], [])
    assert analyse_image(_pred([], []), empty)["errors"] == {"missed": 0, "false": 0, "split": 0, "merged": 0}
    assert analyse_image(_pred([], []), _inst([A], [1]))["errors"]["missed"] == 1
    assert analyse_image(_pred([A], [1]), empty)["errors"]["false"] == 1


def test_pr_curve_ap_equals_the_voc_evaluator() -> None:
    rng = np.random.default_rng(0)
    ev = VOCInstanceEvaluator(num_classes=1, class_names=["x"])
    scores, tps, num_gt = [], [], 0
    for _ in range(5):
        gts = [_box(int(y), int(x), int(y) + 8, int(x) + 8) for y, x in rng.integers(0, 30, size=(3, 2))]
        preds = [np.roll(g, int(rng.integers(0, 5)), axis=1) for g in gts] + [_box(0, 0, 5, 5)]
        pred = _pred(preds, [1] * len(preds), list(rng.random(len(preds))))
        gt = _inst(gts, [1] * len(gts))
        ev.process({"instances": gt, "semantic": np.zeros((40, 40), np.uint8)}, pred)
        a = analyse_image(pred, gt)
        scores += list(pred.scores)
        tps += [p["tp"] for p in a["pred"]]
        num_gt += len(gts)
    curve = pr_curve(scores, tps, num_gt)
    assert curve["ap"] == pytest.approx(ev.evaluate()["mAP50"], abs=1e-9)
    assert len(curve["recall"]) == len(curve["precision"]) and max(curve["recall"]) <= 1.0


def test_pr_curve_without_gt() -> None:
    assert pr_curve([0.5], [0], 0) == {"recall": [], "precision": [], "ap": None}


def test_overlaps_equal_the_evaluator_iou() -> None:
    from baiseg.evaluation.voc import mask_iou
    from baiseg.report.analysis import _overlaps

    rng = np.random.default_rng(1)
    pred, gt = rng.random((5, 30, 40)) > 0.7, rng.random((4, 30, 40)) > 0.8
    pred[1] = False  # an empty mask
    pred[2], gt[0] = False, False
    pred[2, 2:6, 3:9], gt[0, 20:25, 30:38] = True, True  # boxes that do not meet
    iou, in_pred, in_gt = _overlaps(pred, gt)
    assert np.array_equal(iou, mask_iou(pred, gt))
    inter = (pred[:, None] & gt[None]).sum((2, 3))
    assert np.allclose(in_gt, inter / gt.sum((1, 2))[None, :])
    assert np.allclose(in_pred[[0, 2, 3, 4]], (inter / np.maximum(pred.sum((1, 2)), 1)[:, None])[[0, 2, 3, 4]])
