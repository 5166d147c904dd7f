"""Region merging across weak borders (merge.py) and its place in the MEP (mep.merge_thr)."""

from __future__ import annotations

import numpy as np

from baiseg.config import MEPConfig
from baiseg.postprocess import instances_from_semantic
from baiseg.postprocess.baselines import cc_labels
from baiseg.postprocess.mep import extract_masks
from baiseg.postprocess.merge import border_strengths, merge_weak_borders


def _halves(strength: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 20 x 40 block of class 1 cut into two regions at x = 20; the boundary map is ``strength`` on the cut."""
    labels = np.zeros((20, 40), np.int32)
    labels[:, :20], labels[:, 20:] = 1, 2
    b = np.zeros((20, 40), np.float32)
    b[:, 19:21] = strength
    return labels, b, np.ones((20, 40), np.uint8)


def test_border_strength_is_the_mean_over_the_shared_border():
    labels, b, sem = _halves(0.7)
    pairs, sums, counts = border_strengths(labels, b, sem)
    assert pairs.tolist() == [[1, 2]]
    assert counts.tolist() == [20]  # 20 horizontal pixel pairs straddle the cut
    assert np.isclose(sums[0] / counts[0], 0.7)


def test_strong_border_is_kept_weak_border_is_merged():
    labels, b, sem = _halves(0.7)
    assert merge_weak_borders(labels, b, sem, thr=0.5).max() == 2
    labels, b, sem = _halves(0.3)
    out = merge_weak_borders(labels, b, sem, thr=0.5)
    assert out.max() == 1 and (out == 1).all()


def test_regions_of_different_classes_never_merge():
    labels, b, sem = _halves(0.0)
    sem[:, 20:] = 2
    assert merge_weak_borders(labels, b, sem, thr=2.0).max() == 2


def test_small_region_joins_its_weakest_neighbour_whatever_the_threshold():
    labels, b, sem = _halves(0.9)
    labels[:3, :3] = 3  # a 9-px sliver inside region 1
    out = merge_weak_borders(labels, b, sem, thr=0.0, min_area_px=20)
    assert out.max() == 2 and (out[:3, :3] == out[10, 5]).all()


def test_hierarchical_merge_updates_borders():
    """Three strips A|B|C: A-B weak (0.2), B-C strong (0.8). Only A and B merge at thr 0.5."""
    labels = np.zeros((10, 30), np.int32)
    labels[:, :10], labels[:, 10:20], labels[:, 20:] = 1, 2, 3
    b = np.zeros((10, 30), np.float32)
    b[:, 9:11], b[:, 19:21] = 0.2, 0.8
    out = merge_weak_borders(labels, b, np.ones((10, 30), np.uint8), thr=0.5)
    assert out.max() == 2 and out[0, 0] == out[0, 15] != out[0, 25]


def test_threshold_above_one_gives_connected_components(cases):
    inst, sem = cases.touching_discs()
    b = cases.blurred(cases.contour(inst))
    cfg = MEPConfig(merge_thr=1.01, min_area_px=16)
    labels = extract_masks(b, sem, cfg=cfg)
    assert np.array_equal(labels > 0, cc_labels(sem) > 0) and labels.max() == cc_labels(sem).max() == 1


def test_mep_with_merge_keeps_a_real_cut_and_drops_a_texture_cut(cases):
    inst, sem = cases.touching_discs()
    real = cases.blurred(cases.contour(inst))  # the ridge between the discs peaks at 1
    cfg = MEPConfig(merge_thr=0.5, min_area_px=16, boundary_thr=0.3)
    assert extract_masks(real, sem, cfg=cfg).max() == 2
    faint = 0.45 * real  # the same ridge, but weak: a texture edge
    assert extract_masks(faint, sem, cfg=MEPConfig(merge_thr=0.5, min_area_px=16, boundary_thr=0.2)).max() == 1
    out = instances_from_semantic("baiseg", sem, boundary_prob=real, cfg=cfg)
    assert len(out.masks) == 2 and out.masks.sum() == (sem > 0).sum()


def test_enclosed_region_merges_into_its_ring_only_when_asked():
    labels = np.ones((30, 30), np.int32)
    labels[10:20, 10:20] = 2  # an inner patch, entirely surrounded by region 1, behind a strong ridge
    b = np.zeros((30, 30), np.float32)
    b[9:21, 9:21] = 0.9
    b[11:19, 11:19] = 0.0
    sem = np.ones((30, 30), np.uint8)
    sem[0, :] = 0  # region 1 touches background: it is not enclosed
    labels[0, :] = 0
    assert merge_weak_borders(labels, b, sem, thr=0.5).max() == 2
    assert merge_weak_borders(labels, b, sem, thr=0.5, enclosed=True).max() == 1
    side = labels.copy()
    side[10:20, 20:] = 2  # the patch reaches the image border: not enclosed
    assert merge_weak_borders(side, b, sem, thr=0.5, enclosed=True).max() == 2


def test_neck_rule_merges_a_fragment_and_keeps_a_neck():
    """Region 2 is a strip cut off the side of a block (no neck: merged); two discs meeting at a narrow waist keep
    their cut, although both cuts carry the same strong boundary evidence."""
    labels = np.zeros((40, 60), np.int32)
    labels[5:35, 5:45] = 1
    labels[5:35, 45:52] = 2  # a fragment: the cut runs through the block's full height
    b = np.zeros((40, 60), np.float32)
    b[:, 44:46] = 0.95
    sem = (labels > 0).astype(np.uint8)
    assert merge_weak_borders(labels, b, sem, thr=0.5).max() == 2
    assert merge_weak_borders(labels, b, sem, thr=0.5, neck_ratio=0.7).max() == 1
    yy, xx = np.mgrid[:40, :80]
    discs = ((np.hypot(yy - 20, xx - 20) < 15) | (np.hypot(yy - 20, xx - 48) < 15)).astype(np.int32)
    labels = np.where(discs > 0, np.where(xx < 34, 1, 2), 0).astype(np.int32)
    b = np.zeros((40, 80), np.float32)
    b[:, 33:35] = 0.95
    assert merge_weak_borders(labels, b, discs.astype(np.uint8), thr=0.5, neck_ratio=0.7).max() == 2


def test_neck_rule_keeps_packed_boxes_behind_a_strong_boundary():
    """Two boxes side by side meet without a neck; a complete, strong boundary between them keeps them apart when
    the neck rule is limited to weaker borders (merge_neck_max_strength)."""
    labels = np.zeros((40, 80), np.int32)
    labels[5:35, 5:40], labels[5:35, 40:75] = 1, 2
    b = np.zeros((40, 80), np.float32)
    b[5:35, 39:41] = 0.99
    sem = (labels > 0).astype(np.uint8)
    assert merge_weak_borders(labels, b, sem, thr=0.5, neck_ratio=1.0).max() == 1  # no limit: merged
    assert merge_weak_borders(labels, b, sem, thr=0.5, neck_ratio=1.0, neck_max_strength=0.97).max() == 2
    b[5:35, 39:41] = 0.8  # a weaker border: merged again
    assert merge_weak_borders(labels, b, sem, thr=0.5, neck_ratio=1.0, neck_max_strength=0.97).max() == 1
