"""Instance assembly, the cc / dtws baselines, COCO results JSON and the golden MEP output."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from baiseg.config import PAPER_MEP, MEPConfig
from baiseg.errors import BaisegError
from baiseg.instances import coco_results, mask_boxes
from baiseg.postprocess import assemble_instances, extract_masks, instances_from_semantic

GOLDEN = Path(__file__).parent / "golden" / "mep_golden.npz"


def test_mask_spanning_two_classes_is_split():
    sem = np.zeros((40, 60), np.uint8)
    sem[5:35, 5:30] = 1
    sem[5:35, 30:55] = 2
    labels = (sem > 0).astype(np.int32)  # one class-agnostic mask over both classes
    inst = assemble_instances(labels, sem)
    assert sorted(inst.classes.tolist()) == [1, 2]
    for m, c in zip(inst.masks, inst.classes, strict=True):
        assert (sem[m] == c).all() and m.sum() == 750


def test_minor_class_stays_with_majority_and_background_mask_is_dropped():
    sem = np.zeros((40, 40), np.uint8)
    sem[0:30, 0:30] = 1
    sem[0:2, 0:2] = 2  # 4 px of class 2: below split_min_frac, joins the class-1 instance
    labels = np.zeros((40, 40), np.int32)
    labels[0:30, 0:30] = 1
    labels[32:40, 32:40] = 2  # lies in background only
    inst = assemble_instances(labels, sem)
    assert inst.classes.tolist() == [1] and inst.masks[0].sum() == 900


def test_scores_rank_and_use_probabilities():
    sem = np.zeros((50, 50), np.uint8)
    sem[0:40, 0:40] = 1
    sem[45:50, 45:50] = 1
    labels = np.zeros((50, 50), np.int32)
    labels[0:40, 0:40] = 1
    labels[45:50, 45:50] = 2
    inst = assemble_instances(labels, sem)
    assert inst.scores[0] > inst.scores[1] and inst.masks[0].sum() == 1600  # whole object above fragment
    prob = np.zeros((2, 50, 50), np.float32)
    prob[1] = 0.5
    boundary = np.full((50, 50), 0.2, np.float32)
    cfg = MEPConfig(score_area_px=0, score_rule="evidence")
    inst2 = assemble_instances(labels, sem, sem_prob=prob, boundary_prob=boundary, cfg=cfg)
    np.testing.assert_allclose(inst2.scores, [0.4, 0.4], rtol=1e-5)  # 0.5 x (1 - 0.2)
    inst3 = assemble_instances(labels, sem, sem_prob=prob, boundary_prob=boundary, cfg=MEPConfig(score_area_px=0,
                                                                                                  score_rule="area"))
    np.testing.assert_allclose(inst3.scores, [0.5, 0.5], rtol=1e-5)  # the boundary term is left out
    assert inst2.scores.dtype == np.float32 and inst2.classes.dtype == np.int64


def test_baselines():
    sem = np.zeros((60, 120), np.uint8)
    yy, xx = np.mgrid[:60, :120]
    sem[(np.hypot(yy - 30, xx - 30) < 25) | (np.hypot(yy - 30, xx - 75) < 25)] = 4  # two discs, narrow neck
    sem[5:15, 105:118] = 2
    cc = instances_from_semantic("cc", sem)
    assert sorted(cc.classes.tolist()) == [2, 4]
    dt = instances_from_semantic("dtws", sem)
    assert sorted(dt.classes.tolist()) == [2, 4, 4]
    for inst in (cc, dt):
        assert not inst.masks[:, sem == 0].any()
        assert inst.masks.sum(0).max() == 1  # no overlaps


def test_method_errors():
    sem = np.ones((8, 8), np.uint8)
    with pytest.raises(BaisegError):
        instances_from_semantic("baiseg", sem)
    with pytest.raises(BaisegError):
        instances_from_semantic("watershed", sem)
    with pytest.raises(BaisegError):
        instances_from_semantic("cc", np.ones((8, 8, 3), np.uint8))


def test_results_json_loads_with_pycocotools(tmp_path):
    from pycocotools.coco import COCO

    sem = np.zeros((30, 40), np.uint8)
    sem[2:20, 2:15] = 1
    sem[5:25, 20:38] = 2
    inst = instances_from_semantic("cc", sem, cfg=MEPConfig(min_area_px=10))
    assert mask_boxes(inst.masks).tolist()[0][2:] in ([15.0, 20.0], [38.0, 25.0])
    results = coco_results(inst, "000000000042", category_ids=[7, 9]) + coco_results(inst, "5", [7, 9])
    gt = {
        "images": [{"id": 42, "height": 30, "width": 40}, {"id": 5, "height": 30, "width": 40}],
        "annotations": [],
        "categories": [{"id": 7, "name": "a"}, {"id": 9, "name": "b"}],
    }
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(results))
    coco = COCO(str(tmp_path / "gt.json"))
    res = coco.loadRes(str(tmp_path / "res.json"))
    assert len(res.getAnnIds()) == 4 and {a["category_id"] for a in res.dataset["annotations"]} == {7, 9}
    assert res.annToMask(res.dataset["annotations"][0]).sum() == inst.masks[0].sum()


def _golden_input() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1234)
    h, w = 48, 64
    yy, xx = np.mgrid[:h, :w]
    inst = np.zeros((h, w), np.int32)
    for k, (cy, cx, r) in enumerate([(20, 18, 14), (22, 40, 15), (38, 55, 9)], start=1):
        inst[(np.hypot(yy - cy, xx - cx) < r) & (inst == 0)] = k
    edges = np.zeros((h, w), bool)
    edges[:, 1:] |= inst[:, 1:] != inst[:, :-1]
    edges[1:] |= inst[1:] != inst[:-1]
    import cv2

    b = cv2.GaussianBlur(edges.astype(np.float32), (0, 0), 1.2)
    b = np.clip(b / b.max() + 0.15 * rng.standard_normal((h, w)), 0, 1).astype(np.float32)
    sem = np.where(inst > 0, np.where(inst == 3, 2, 1), 0).astype(np.uint8)
    return b, sem


def test_golden_output():
    b, sem = _golden_input()
    # explicit parameters (not the defaults, which are tuned on trained models): this map's ridges peak near 0.6
    cfg = MEPConfig(**{**PAPER_MEP, "min_area_px": 20, "boundary_thr": 0.3, "boundary_dilate_px": 2, "sure_fg": False})
    labels = extract_masks(b, sem, cfg=cfg)
    inst = instances_from_semantic("baiseg", sem, boundary_prob=b, cfg=cfg)
    if os.environ.get("BAISEG_REGEN_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        np.savez_compressed(GOLDEN, labels=labels.astype(np.int16), classes=inst.classes, scores=inst.scores)
    gold = np.load(GOLDEN)
    assert np.array_equal(labels, gold["labels"]), "MEP output changed: BAISEG_REGEN_GOLDEN=1 if intended"
    assert np.array_equal(inst.classes, gold["classes"])
    np.testing.assert_allclose(inst.scores, gold["scores"], atol=1e-5)
    assert labels.max() == 3


def test_separate_pieces_of_a_minor_class_become_separate_instances():
    labels = np.zeros((60, 80), np.int32)
    labels[5:55, 5:75] = 1  # one MEP mask: a bowl with food in it
    sem = np.where(labels > 0, 1, 0).astype(np.uint8)
    sem[10:20, 10:20] = 2  # 100 px
    sem[30:45, 40:55] = 2  # 225 px
    sem[48:51, 60:63] = 2  # 9 px: too small, stays with the bowl
    sem[5:55, 74] = 2  # a 1-px seam of 50 px along the mask's edge: a sliver, stays with the bowl
    inst = assemble_instances(labels, sem, cfg=MEPConfig(min_area_px=50, split_min_frac=0.0))
    assert sorted(inst.classes.tolist()) == [1, 2, 2]
    areas = sorted(int(m.sum()) for m in inst.masks)
    assert areas == [100, 225, 3500 - 325]
    assert inst.masks.sum(0).max() == 1  # no pixel in two instances
