"""COCO evaluator (pycocotools segm) and its agreement with the VOC evaluator where the protocols coincide."""

from __future__ import annotations

import math

import numpy as np
import pytest

from baiseg.evaluation import COCOInstanceEvaluator, EvaluationError, VOCInstanceEvaluator


def both(pairs, num_classes=2, category_ids=None):
    voc, coco = VOCInstanceEvaluator(num_classes=num_classes), COCOInstanceEvaluator(num_classes, category_ids)
    for s, p in pairs:
        voc.process(s, p)
        coco.process(s, p)
    return voc.evaluate(), coco.evaluate()


def test_perfect_predictions(ev):
    s = ev.sample([ev.A, ev.B, ev.C], [1, 1, 2])
    voc, coco = both([(s, ev.pred([ev.A, ev.B, ev.C], [1, 1, 2], [0.9, 0.8, 0.7]))], category_ids=[5, 9])
    assert coco["AP"] == pytest.approx(1.0) and coco["AP50"] == pytest.approx(1.0)
    assert coco["voc_view"] == pytest.approx({"mAP25": 1.0, "mAP50": 1.0, "mAP70": 1.0, "mAP75": 1.0})
    assert voc["mAP50"] == 1.0


def test_ap_thresholds(ev):
    gt = ev.box(0, 0, 10, 10)
    p = ev.box(0, 0, 10, 8)  # IoU .8: a hit at .5-.8, a miss at .85-.95
    _, coco = both([(ev.sample([gt], [1]), ev.pred([p], [1], [0.9]))], num_classes=1)
    assert coco["AP50"] == pytest.approx(1.0) and coco["AP75"] == pytest.approx(1.0)
    assert coco["AP"] == pytest.approx(0.7)  # 7 of 10 thresholds (.5 ... .8)


def test_views_agree_when_protocols_coincide(ev):
    # Each prediction either hits one GT cleanly or misses everything: no fall-back is ever needed, so the two
    # protocols differ only by COCO's 101-point interpolation (at most ~1/101 per recall step here).
    rng = np.random.default_rng(3)
    pairs = []
    for i in range(6):
        gts = [ev.box(0, 0, 8, 8), ev.box(0, 12, 8, 20), ev.box(12, 0, 20, 8)]
        cls = rng.integers(1, 3, size=3)
        hits = [g for g, keep in zip(gts, rng.random(3) < 0.7) if keep]
        masks = hits + [ev.FAR] * int(rng.integers(0, 3))
        classes = list(cls[: len(hits)]) + list(rng.integers(1, 3, size=len(masks) - len(hits)))
        pairs.append((ev.sample(gts, cls, image_id=f"i{i}"), ev.pred(masks, classes, rng.random(len(masks)))))
    voc, coco = both(pairs)
    for key in ("mAP25", "mAP50", "mAP70", "mAP75"):
        assert coco["voc_view"][key] == pytest.approx(voc[key], abs=0.02)
    assert 0.2 < voc["mAP50"] < 1.0


def test_fallback_is_where_they_differ(ev):
    a, b = ev.box(0, 0, 10, 10), ev.box(0, 10, 10, 20)
    p2 = ev.box(0, 4, 10, 15)  # arg-max GT a (taken) -> VOC FP; COCO falls back to b (IoU .33 >= .25) -> TP
    voc, coco = both([(ev.sample([a, b], [1, 1]), ev.pred([a, p2], [1, 1], [0.9, 0.8]))], num_classes=1)
    assert voc["mAP25"] == pytest.approx(0.5)
    assert coco["voc_view"]["mAP25"] == pytest.approx(1.0)


def test_crowd_regions_are_ignored(ev):
    s = ev.sample([ev.A, ev.B], [1, 1], crowd=[False, True])
    _, coco = both([(s, ev.pred([ev.A, ev.B], [1, 1], [0.5, 0.9]))], num_classes=1)
    assert coco["AP"] == pytest.approx(1.0)  # the detection on the crowd region is neither TP nor FP


def test_class_with_gt_and_no_predictions_and_empty_cases(ev):
    s = ev.sample([ev.A, ev.C], [1, 2])
    _, coco = both([(s, ev.pred([ev.A], [1], [0.9]))])
    assert coco["AP50"] == pytest.approx(0.5)
    assert coco["per_class_AP"] == pytest.approx({"1": 1.0, "2": 0.0})
    _, coco = both([(s, ev.pred(np.zeros((0, ev.H, ev.W)), [], []))])
    assert coco["AP"] == 0.0 and coco["voc_view"]["mAP50"] == 0.0
    empty = ev.sample(np.zeros((0, ev.H, ev.W)), [])
    _, coco = both([(empty, ev.pred([ev.A], [1], [0.9]))])
    assert math.isnan(coco["AP"]) and math.isnan(coco["voc_view"]["mAP50"])
    assert math.isnan(COCOInstanceEvaluator(2).evaluate()["AP"])


def test_results_use_dataset_ids(ev):
    e = COCOInstanceEvaluator(2, category_ids=[3, 7])
    e.process(ev.sample([ev.A], [1], image_id="000000000139"), ev.pred([ev.A, ev.C], [1, 2], [0.9, 0.4]))
    res = e.results()
    assert [r["image_id"] for r in res] == [139, 139]
    assert [r["category_id"] for r in res] == [3, 7]
    assert res[0]["segmentation"]["size"] == [ev.H, ev.W] and isinstance(res[0]["segmentation"]["counts"], str)


def test_class_outside_range_is_an_error(ev):
    e = COCOInstanceEvaluator(2)
    with pytest.raises(EvaluationError, match="outside 1..2"):
        e.process(ev.sample([ev.A], [1]), ev.pred([ev.A], [3], [0.9]))


def test_per_class_ap_follows_the_category_ids_not_their_sorted_order(ev):
    # category ids not ascending (as in the coco128_voc_* sets): class 1 -> id 9, class 2 -> id 5. Class 1 is found
    # perfectly, class 2 is missed: the per-class AP must say so under each class's own name.
    s = ev.sample([ev.A, ev.C], [1, 2])
    coco = COCOInstanceEvaluator(2, category_ids=[9, 5], class_names=["first", "second"])
    coco.process(s, ev.pred([ev.A], [1], [0.9]))
    per_class = coco.evaluate()["per_class_AP"]
    assert per_class["first"] == pytest.approx(1.0)
    assert per_class["second"] == pytest.approx(0.0)


def test_a_prediction_on_a_void_crowd_region_is_ignored(ev):
    # COCO data: crowd regions are void in the semantic map; void is cut from the other GT masks only, so COCOeval
    # still sees the crowd region and ignores the prediction on it (it counted as a false positive)
    s = ev.sample([ev.A, ev.B], [1, 1], crowd=[False, True], void=ev.B)
    voc, coco = both([(s, ev.pred([ev.B, ev.A], [1, 1], [0.9, 0.5]))], num_classes=1)
    assert coco["AP50"] == pytest.approx(1.0) and voc["mAP50"] == 1.0
