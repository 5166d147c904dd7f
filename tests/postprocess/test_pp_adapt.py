"""Adaptive thresholds (postprocess/adapt.py) and the boundary-band markers (mep.marker_band)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from baiseg.config import MEPConfig
from baiseg.postprocess.adapt import adapted, outline, outline_strength
from baiseg.postprocess.mep import extract_masks


def _touching_pair(border: float, outline_value: float, size=(50, 80)):
    """Two 30 x 30 squares side by side (their union is a 30 x 60 rectangle whose distance core is one piece) split by
    a vertical border of ``border`` probability; the outline of the union carries ``outline_value``. Both lines are
    blurred a little as a network's are. Returns (boundary map, semantic map)."""
    sem = np.zeros(size, np.uint8)
    sem[10:40, 10:70] = 1
    b = np.zeros(size, np.float32)
    b[outline(sem > 0)] = outline_value
    b[10:40, 39:41] = border
    return np.minimum(cv2.GaussianBlur(b, (0, 0), 0.6) * 1.3, np.maximum(b, 0)).astype(np.float32), sem


def test_outline_is_the_foreground_ring():
    fg = np.zeros((10, 12), bool)
    fg[2:8, 3:9] = True
    ring = outline(fg)
    assert ring.sum() == 2 * 6 + 2 * 4 and not ring[4, 5] and ring[2, 5]
    full = np.ones((5, 5), bool)
    assert not outline(full).any()  # the image frame is no outline
    assert outline_strength(np.ones((5, 5), np.float32), full, 0.5) is None


def test_adapted_scales_every_probability_threshold():
    b = np.zeros((40, 40), np.float32)
    fg = np.zeros((40, 40), bool)
    fg[5:35, 5:35] = True
    b[outline(fg)] = 0.45
    cfg = MEPConfig(adapt_ref=0.9, boundary_thr=0.9, merge_thr=0.5, merge_neck_max_strength=0.97, marker_band=0.6)
    out, scale = adapted(cfg, b, fg)
    assert scale == pytest.approx(0.5)
    assert (out.boundary_thr, out.merge_thr, out.marker_band) == pytest.approx((0.45, 0.25, 0.3))
    assert out.merge_neck_max_strength == pytest.approx(0.485)
    b[outline(fg)] = 0.99  # at or above the reference: unchanged
    assert adapted(cfg, b, fg) == (cfg, 1.0)
    assert adapted(dataclasses.replace(cfg, adapt_ref=0.0), b * 0.1, fg) == (dataclasses.replace(cfg, adapt_ref=0.0),
                                                                             1.0)
    beyond = dataclasses.replace(cfg, merge_neck_max_strength=1.5)  # > 1 means "any border": kept
    assert adapted(beyond, b * 0.5, fg)[0].merge_neck_max_strength == 1.5


def test_weak_border_is_cut_only_with_adaptive_thresholds():
    b, sem = _touching_pair(border=0.6, outline_value=0.65)
    fixed = MEPConfig(marker_band=0.0)
    adaptive = dataclasses.replace(fixed, adapt_ref=0.95)
    n_fixed = int(extract_masks(b, sem, cfg=dataclasses.replace(fixed, )).max())
    n_adapt = int(extract_masks(b, sem, cfg=dataclasses.replace(adaptive, )).max())
    assert n_fixed == 1  # 0.6 < 0.9: the fixed ridge threshold never sees the border, one core, one instance
    assert n_adapt == 2  # outline median r ~ 0.56: boundary_thr 0.9 x r / 0.95 ~ 0.53 < 0.6, merge_thr 0.3 < 0.6
    # a saturated map (outline at 1): the adaptive rule gives the fixed rule's answer
    b2, sem2 = _touching_pair(border=0.6, outline_value=1.0)
    assert np.array_equal(extract_masks(b2, sem2, cfg=adaptive), extract_masks(b2, sem2, cfg=fixed))


def test_marker_band_gives_each_blob_a_core():
    b, sem = _touching_pair(border=0.8, outline_value=0.9)
    cfg = MEPConfig(boundary_thr=0.99, merge_thr=0.0, merge_neck_ratio=0.0, marker_band=0.0)
    assert int(extract_masks(b, sem, cfg=cfg).max()) == 1  # one core for the union, the border below the ridge thr
    banded = extract_masks(b, sem, cfg=dataclasses.replace(cfg, marker_band=0.5))
    assert int(banded.max()) == 2
    assert not ((banded > 0) & (sem == 0)).any()


def test_marker_band_over_a_whole_class_region():
    sem = np.zeros((20, 20), np.uint8)
    sem[5:8, 5:8] = 1
    b = np.ones((20, 20), np.float32)
    labels = extract_masks(b, sem, cfg=MEPConfig(marker_band=0.5))  # no core left: no crash, component kept
    assert labels.max() == 1


def test_band_only_in_thin_band_and_small_components():
    from baiseg.postprocess.markers import banded_semantic

    b, sem = _touching_pair(border=0.8, outline_value=0.9)  # a 30 x 60 rectangle: 15 px deep
    fg = sem > 0
    cut = banded_semantic(b, sem, fg, 0.5, 0.3, 24.0)
    assert (cut[10:40, 39:41] == 0).all()  # banded: the border line is removed
    assert np.array_equal(banded_semantic(b, sem, fg, 0.5, 0.3, 10.0), sem)  # deeper than 10 px: left whole
    textured = b.copy()
    textured[fg] = np.maximum(textured[fg], (np.indices(sem.shape).sum(0)[fg] % 3 == 0) * 0.9)  # band everywhere
    assert np.array_equal(banded_semantic(textured, sem, fg, 0.5, 0.8, 24.0), sem)  # < 80 % outside the band: whole
    assert not np.array_equal(banded_semantic(b, sem, fg, 0.5, 0.0, 0.0), sem)
