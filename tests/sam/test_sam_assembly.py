"""baiseg.sam assembly on hand-built SAM masks (no model, no weights): classes, overlaps, leftovers, scores."""

from __future__ import annotations

import numpy as np
import pytest

from baiseg.errors import BaisegError
from baiseg.sam import SAMConfig, assemble_sam_instances, foreground_points


def _scene() -> np.ndarray:
    """40 x 60 map: class 1 block [5:25, 5:25] (400 px), class 2 block [5:25, 30:50] (400 px), void row 30."""
    sem = np.zeros((40, 60), np.uint8)
    sem[5:25, 5:25] = 1
    sem[5:25, 30:50] = 2
    sem[30] = 255
    return sem


def _box(y0: int, y1: int, x0: int, x1: int, shape: tuple[int, int] = (40, 60)) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[y0:y1, x0:x1] = True
    return m


def _assemble(masks: list[np.ndarray], ious: list[float], sem: np.ndarray, **cfg) -> dict[str, np.ndarray]:
    stack = np.stack(masks) if masks else np.zeros((0, *sem.shape), bool)
    return assemble_sam_instances(stack, np.asarray(ious, np.float32), sem, cfg=SAMConfig(**cfg))


def _disjoint(inst: dict[str, np.ndarray]) -> bool:
    return bool((inst.masks.sum(0) <= 1).all())


def test_mask_gets_majority_class_and_loses_other_pixels():
    sem = _scene()
    # covers all of class 1 and 4 columns of class 2 (80 px) and some background
    inst = _assemble([_box(3, 27, 3, 34)], [0.9], sem)
    first = inst.masks[0]
    assert inst.classes[0] == 1 and inst.scores[0] == pytest.approx(0.9)
    assert first.sum() == 400 and (sem[first] == 1).all()
    # the rest of class 2 is not covered by SAM: it comes back as a leftover component
    assert inst.classes.tolist() == [1, 2] and inst.masks[1].sum() == 400
    assert _disjoint(inst)


def test_mask_mostly_on_background_is_dropped():
    sem = _scene()
    inst = _assemble([_box(0, 40, 0, 60)], [0.99], sem, min_inside_frac=0.5)  # 400 / 2400 px of class 1
    # only the two leftover components remain, with the leftover score
    assert sorted(inst.classes.tolist()) == [1, 2]
    size = 400 / (400 + SAMConfig().area_scale_px)
    assert np.allclose(inst.scores, 0.5 * size)


def test_paint_by_area_absorbs_parts_and_paint_by_score_splits():
    sem = _scene()
    whole, part = _box(5, 25, 5, 25), _box(5, 12, 5, 25)  # 400 px and 140 px, part has the higher IoU
    by_area = _assemble([part, whole], [0.99, 0.9], sem, paint="area")
    assert (by_area.classes == 1).sum() == 1 and by_area.masks[by_area.classes == 1][0].sum() == 400
    by_score = _assemble([part, whole], [0.99, 0.9], sem, paint="score", min_keep_frac=0.5)
    ones = by_score.masks[by_score.classes == 1]
    assert sorted(m.sum() for m in ones) == [140, 260] and _disjoint(by_score)
    # with a stricter keep fraction the whole (left with 65 %) is dropped and its rest becomes a leftover component
    strict = _assemble([part, whole], [0.99, 0.9], sem, paint="score", min_keep_frac=0.7)
    scores = strict.scores[strict.classes == 1]
    assert len(scores) == 2 and scores[0] == pytest.approx(0.99) and scores[1] < 0.5


def test_uncovered_foreground_becomes_components_and_small_ones_drop():
    sem = _scene()
    sem[35:39, 2:6] = 1  # 16 px island of class 1: below min_area_px
    sem[32:40, 40:50] = 2  # 80 px island of class 2
    inst = _assemble([], [], sem, min_area_px=64)
    found = sorted((int(c), int(m.sum())) for c, m in zip(inst.classes, inst.masks))
    assert found == [(1, 400), (2, 80), (2, 400)]
    assert _disjoint(inst) and not inst.masks[:, 30].any()  # void is never an instance


def test_sam_score_uses_semantic_probability_and_area_rule_ranks_by_size():
    sem = _scene()
    prob = np.zeros((3, 40, 60), np.float32)
    prob[1], prob[2] = 0.8, 0.5
    small, large = _box(5, 15, 5, 25), _box(5, 25, 30, 50)  # 200 px class 1, 400 px class 2
    inst = assemble_sam_instances(np.stack([small, large]), np.array([0.9, 0.95]), sem, sem_prob=prob,
                                  cfg=SAMConfig(min_area_px=10))  # fmt: skip
    assert inst.scores[0] == pytest.approx(0.9 * 0.8) and inst.scores[1] == pytest.approx(0.95 * 0.5)
    assert inst.classes[:2].tolist() == [1, 2]
    by_area = assemble_sam_instances(np.stack([small, large]), np.array([0.9, 0.95]), sem, sem_prob=prob,
                                     cfg=SAMConfig(min_area_px=10, score="area"))  # fmt: skip
    areas = by_area.masks.sum((1, 2))
    assert (np.diff(areas) <= 0).all() and (np.diff(by_area.scores) <= 0).all()
    assert by_area.scores[0] == pytest.approx(400 / (400 + SAMConfig().area_scale_px))


def test_outputs_follow_the_instances_contract():
    sem = _scene()
    inst = _assemble([_box(5, 25, 5, 25), _box(5, 25, 30, 50)], [0.95, 0.9], sem)
    assert inst.masks.dtype == bool and inst.masks.shape == (2, 40, 60)
    assert inst.classes.dtype == np.int64 and inst.scores.dtype == np.float32
    assert (np.diff(inst.scores) <= 0).all() and ((inst.scores >= 0) & (inst.scores <= 1)).all()


def test_empty_foreground_and_bad_shapes():
    sem = np.zeros((8, 9), np.uint8)
    inst = _assemble([], [], sem)
    assert inst.masks.shape == (0, 8, 9) and inst.classes.shape == (0,) and inst.scores.shape == (0,)
    with pytest.raises(BaisegError, match="do not fit"):
        assemble_sam_instances(np.zeros((1, 9, 8), bool), np.ones(1), sem)


def test_foreground_points_lie_on_foreground():
    sem = _scene()
    pts = foreground_points(sem, 8)
    assert len(pts) > 0 and ((pts >= 0) & (pts <= 1)).all()
    rows, cols = (pts[:, 1] * 40).astype(int), (pts[:, 0] * 60).astype(int)
    assert ((sem[rows, cols] > 0) & (sem[rows, cols] < 255)).all()
    assert len(foreground_points(np.zeros((5, 5), np.uint8), 4)) == 0


def test_config_validation():
    with pytest.raises(BaisegError, match="score"):
        SAMConfig(score="iou")
    with pytest.raises(BaisegError, match="unknown SAMConfig"):
        SAMConfig().with_overrides(points=3)
    assert SAMConfig().with_overrides(score="area").score == "area"
