"""VOC mAP^r evaluator on hand-built cases with analytically known AP."""

from __future__ import annotations

import math

import numpy as np
import pytest

from baiseg.evaluation import EvaluationError, VOCInstanceEvaluator, mask_iou, voc_ap
from baiseg.evaluation.common import check_prediction
from baiseg.instances import Instances, InstancesError


def run(pairs, num_classes=2):
    e = VOCInstanceEvaluator(num_classes=num_classes)
    for s, p in pairs:
        e.process(s, p)
    return e.evaluate()


def test_mask_iou_matches_definition():
    rng = np.random.default_rng(0)
    p = rng.random((5, 13, 17)) > 0.5
    g = rng.random((3, 13, 17)) > 0.6
    got = mask_iou(p, g)
    for i in range(5):
        for j in range(3):
            want = (p[i] & g[j]).sum() / (p[i] | g[j]).sum()
            assert got[i, j] == pytest.approx(want)
    assert mask_iou(p[:0], g).shape == (0, 3)


def test_voc_ap_envelope():
    # TP, FP, TP over 2 GT: precision 1, 1/2, 2/3 at recall .5, .5, 1 -> envelope 1 then 2/3
    assert voc_ap(np.array([0.9, 0.8, 0.7]), np.array([1, 0, 1], bool), 2) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert voc_ap(np.zeros(0), np.zeros(0, bool), 3) == 0.0
    assert math.isnan(voc_ap(np.array([0.5]), np.array([False]), 0))


def test_perfect_predictions(ev):
    s = ev.sample([ev.A, ev.B, ev.C], [1, 1, 2])
    out = run([(s, ev.pred([ev.A, ev.B, ev.C], [1, 1, 2], [0.9, 0.8, 0.7]))])
    assert [out[k] for k in ("mAP25", "mAP50", "mAP70", "mAP75")] == [1.0] * 4
    assert out["num_gt"] == 3 and out["num_images"] == 1


def test_one_false_positive_ranked_above(ev):
    s = ev.sample([ev.A, ev.B], [1, 1])
    out = run([(s, ev.pred([ev.FAR, ev.A, ev.B], [1, 1, 1], [0.9, 0.8, 0.7]))])
    # precision 0, 1/2, 2/3 at recall 0, .5, 1 -> envelope 2/3 everywhere
    assert out["mAP50"] == pytest.approx(2 / 3)


def test_duplicates_of_one_gt(ev):
    s = ev.sample([ev.A, ev.B], [1, 1])
    out = run([(s, ev.pred([ev.A, ev.A], [1, 1], [0.9, 0.8]))])
    assert out["mAP50"] == pytest.approx(0.5)  # recall .5 at precision 1, the duplicate is an FP


def test_no_fallback_to_second_best_gt(ev):
    a, b = ev.box(0, 0, 10, 10), ev.box(0, 10, 10, 20)
    s = ev.sample([a, b], [1, 1])
    p2 = ev.box(0, 4, 10, 15)  # IoU with a: 60/150 = .4, with b: 50/150 = .33 -> candidate a, already taken
    out = run([(s, ev.pred([a, p2], [1, 1], [0.9, 0.8]))])
    assert out["mAP25"] == pytest.approx(0.5)


def test_class_without_gt_is_ignored_and_class_without_predictions_scores_zero(ev):
    s = ev.sample([ev.A], [1])
    out = run([(s, ev.pred([ev.A, ev.C], [1, 2], [0.9, 0.95]))], num_classes=3)
    assert out["mAP50"] == 1.0  # class 2 has no GT: NaN, left out of the mean
    assert math.isnan(out["per_class"]["2"]["mAP50"])
    s2 = ev.sample([ev.A, ev.C], [1, 2])
    out = run([(s2, ev.pred([ev.A], [1], [0.9]))])
    assert out["mAP50"] == pytest.approx(0.5)
    assert out["per_class"]["2"]["mAP50"] == 0.0


def test_ties_keep_input_order(ev):
    s = ev.sample([ev.A, ev.B], [1, 1])
    tp_first = run([(s, ev.pred([ev.A, ev.FAR], [1, 1], [0.5, 0.5]))])
    fp_first = run([(s, ev.pred([ev.FAR, ev.A], [1, 1], [0.5, 0.5]))])
    assert tp_first["mAP50"] == pytest.approx(0.5)
    assert fp_first["mAP50"] == pytest.approx(0.25)


def test_void_pixels_count_in_the_union_only(ev):
    gt = ev.box(4, 4, 8, 8)  # 16 px
    void = ev.box(4, 8, 8, 12)  # 16 px of void beside it
    s = ev.sample([gt | void], [1], void=void)  # void is removed from the GT mask
    out = run([(s, ev.pred([gt | void], [1], [1.0]))])  # IoU 16 / 32 = .5
    assert (out["mAP25"], out["mAP50"], out["mAP70"], out["mAP75"]) == (1.0, 1.0, 0.0, 0.0)


def test_crowd_gt_is_not_counted(ev):
    s = ev.sample([ev.A, ev.B], [1, 1], crowd=[False, True])
    out = run([(s, ev.pred([ev.A], [1], [0.9]))])
    assert out["mAP50"] == 1.0 and out["num_gt"] == 1


def test_a_prediction_matching_a_crowd_region_is_ignored(ev):
    # VOC's "difficult" objects (chainercv, the protocol IRNet and BESTIE report): a prediction whose best-IoU GT is a
    # crowd region at the threshold is neither a TP nor an FP, even when scored above the true positive.
    s = ev.sample([ev.A, ev.B], [1, 1], crowd=[False, True])
    out = run([(s, ev.pred([ev.B, ev.A], [1, 1], [0.9, 0.5]))])
    assert out["mAP50"] == 1.0 and out["num_gt"] == 1
    # below the threshold the crowd region is no match: still a false positive
    near_b = ev.box(2, 14, 10, 16)  # IoU 16 / 64 with B
    out = run([(s, ev.pred([near_b, ev.A], [1, 1], [0.9, 0.5]))])
    assert out["mAP50"] == 0.5 and out["mAP25"] == 1.0
    # COCO data: the crowd region is void in the semantic map; void leaves the other GT masks, not the crowd region
    s_void = ev.sample([ev.A, ev.B], [1, 1], crowd=[False, True], void=ev.B)
    out = run([(s_void, ev.pred([ev.B, ev.A], [1, 1], [0.9, 0.5]))])
    assert out["mAP50"] == 1.0 and out["num_gt"] == 1
    # a crowd region of another class is no match either
    s2 = ev.sample([ev.A, ev.B], [1, 2], crowd=[False, True])
    out = run([(s2, ev.pred([ev.B, ev.A], [1, 1], [0.9, 0.5]))])
    assert out["mAP50"] == 0.5


def test_several_images_accumulate(ev):
    s1, s2 = ev.sample([ev.A], [1], image_id="a"), ev.sample([ev.B], [1], image_id="b")
    # image b: an FP scored above everything; image a: a TP
    out = run([(s1, ev.pred([ev.A], [1], [0.5])), (s2, ev.pred([ev.FAR], [1], [0.9]))])
    assert out["mAP50"] == pytest.approx(0.5 * 0.5)  # envelope .5 up to recall .5, then nothing


def test_empty_predictions_and_empty_gt(ev):
    s = ev.sample([ev.A], [1])
    out = run([(s, ev.pred(np.zeros((0, ev.H, ev.W)), [], []))])
    assert out["mAP50"] == 0.0
    empty = ev.sample(np.zeros((0, ev.H, ev.W)), [])
    out = run([(empty, ev.pred([ev.A], [1], [0.9]))])
    assert math.isnan(out["mAP50"]) and out["num_gt"] == 0
    assert math.isnan(VOCInstanceEvaluator(num_classes=2).evaluate()["mAP50"])


def test_reset_forgets(ev):
    e = VOCInstanceEvaluator(num_classes=1)
    e.process(ev.sample([ev.A], [1]), ev.pred([ev.FAR], [1], [0.9]))
    e.reset()
    e.process(ev.sample([ev.A], [1]), ev.pred([ev.A], [1], [0.9]))
    assert e.evaluate()["mAP50"] == 1.0


def test_wrong_mask_size_is_a_user_error(ev):
    e = VOCInstanceEvaluator(num_classes=1)
    with pytest.raises(EvaluationError, match="expected N x 24 x 32"):
        e.process(ev.sample([ev.A], [1]), ev.pred(np.zeros((1, 10, 10)), [1], [0.5], h=10, w=10))
    with pytest.raises(EvaluationError, match="no instance ground truth"):
        e.process({"image_id": "x", "instances": None}, ev.pred([ev.A], [1], [0.5]))


def test_the_gate_takes_instances_as_they_are_and_converts_a_mapping_once(ev):
    inst = ev.pred([ev.A, ev.FAR], [1, 1], [0.9, 0.4])
    assert check_prediction(inst, ev.H, ev.W, "x") is inst
    as_map = {"masks": inst.masks.astype(np.uint8), "classes": [1.0, 1.0], "scores": [0.9, 0.4]}
    got = check_prediction(as_map, ev.H, ev.W, "x")
    assert isinstance(got, Instances) and got.classes.dtype == np.int64 and got.scores.dtype == np.float32
    assert np.array_equal(got.masks, inst.masks) and np.array_equal(got.scores, inst.scores)
    outs = []
    for p in (inst, as_map):
        e = VOCInstanceEvaluator(num_classes=1)
        e.process(ev.sample([ev.A], [1]), p)
        outs.append(e.evaluate())
    assert outs[0] == outs[1] and outs[0]["mAP50"] == 1.0
    with pytest.raises(EvaluationError, match="lacks 'scores'"):
        check_prediction({"masks": inst.masks, "classes": [1, 1]}, ev.H, ev.W, "x")
    with pytest.raises(EvaluationError, match="NaN or infinite scores"):
        check_prediction({"masks": inst.masks, "classes": [1, 1], "scores": [0.5, np.nan]}, ev.H, ev.W, "x")
    with pytest.raises(InstancesError, match="finite"):  # Instances refuse them themselves (their one gate)
        Instances(inst.masks, [1, 1], [0.5, np.nan])
    with pytest.raises(EvaluationError, match="2 masks, 1 classes"):
        check_prediction({"masks": inst.masks, "classes": [1], "scores": [0.5, 0.4]}, ev.H, ev.W, "x")
