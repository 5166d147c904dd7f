"""The "images with touching instances of one class" selection."""

from __future__ import annotations

import numpy as np

from baiseg.evaluation import has_touching_instances, select_touching, touching_pairs


def test_adjacent_same_class_touch(ev):
    a, b = ev.box(0, 0, 10, 10), ev.box(0, 10, 10, 20)
    assert touching_pairs({"masks": np.stack([a, b]), "classes": np.array([1, 1])}) == [(0, 1)]
    assert has_touching_instances(ev.sample([a, b], [1, 1]))
    assert not has_touching_instances(ev.sample([a, b], [1, 2]))  # different classes


def test_gap_tolerance(ev):
    a, b1, b3 = ev.box(0, 0, 10, 10), ev.box(0, 11, 10, 20), ev.box(0, 13, 10, 20)
    inst = {"masks": np.stack([a, b1]), "classes": np.array([1, 1])}
    assert touching_pairs(inst) == [(0, 1)]  # a 1 px seam is tolerated by default
    assert touching_pairs(inst, max_gap_px=0) == []
    assert not has_touching_instances(ev.sample([a, b3], [1, 1]))  # a 3 px gap is not touching


def test_diagonal_contact_is_not_4_adjacent(ev):
    a, b = ev.box(0, 0, 5, 5), ev.box(5, 5, 10, 10)
    inst = {"masks": np.stack([a, b]), "classes": np.array([1, 1])}
    assert touching_pairs(inst, max_gap_px=0) == []
    assert touching_pairs(inst, max_gap_px=1) == [(0, 1)]


def test_void_band_is_bridged_and_crowd_ignored(ev):
    a, band, b = ev.box(0, 0, 10, 10), ev.box(0, 10, 10, 15), ev.box(0, 15, 10, 20)
    assert has_touching_instances(ev.sample([a, b], [1, 1], void=band))
    assert not has_touching_instances(ev.sample([a, b], [1, 1]))  # the same 5 px gap without void
    assert not has_touching_instances(ev.sample([a, ev.box(0, 10, 10, 20)], [1, 1], crowd=[False, True]))


def test_select_touching(ev):
    touching = ev.sample([ev.box(0, 0, 10, 10), ev.box(0, 10, 10, 20)], [1, 1])
    apart = ev.sample([ev.A, ev.B], [1, 1])
    single = ev.sample([ev.A], [1])
    no_gt = dict(single, instances=None)
    assert select_touching([apart, touching, single, no_gt, touching]) == [1, 4]
