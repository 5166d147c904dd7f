"""baiseg.postprocess.scale: maps from the network's working size to the image's size."""

from __future__ import annotations

import cv2
import numpy as np

from baiseg.postprocess.scale import compact_semantics, upsample_maps


def test_upsample_maps_bilinear_and_argmax_after_resizing():
    rng = np.random.default_rng(0)
    b = rng.random((12, 16)).astype(np.float32)
    logits = rng.normal(size=(3, 12, 16)).astype(np.float32)
    prob = np.exp(logits) / np.exp(logits).sum(0)
    bu, pu, su = upsample_maps(b, prob, (30, 41))
    assert bu.shape == (30, 41) and pu.shape == (3, 30, 41) and su.shape == (30, 41) and su.dtype == np.uint8
    np.testing.assert_allclose(bu, cv2.resize(b, (41, 30), interpolation=cv2.INTER_LINEAR), atol=1e-6)
    np.testing.assert_allclose(pu[2], cv2.resize(prob[2], (41, 30), interpolation=cv2.INTER_LINEAR), atol=1e-6)
    assert np.array_equal(su, pu.argmax(0))  # the arg-max of the upsampled probabilities, not an upsampled arg-max
    assert 0 <= bu.min() and bu.max() <= 1 and np.allclose(pu.sum(0), 1, atol=1e-5)  # convex combinations
    bu2, none_p, none_s = upsample_maps(b, None, (30, 41))
    assert none_p is None and none_s is None and np.array_equal(bu2, bu)


def test_compact_then_upsample_keeps_semantic_ids():
    sem = np.zeros((8, 8), np.uint8)
    sem[2:6, 2:6] = 5
    prob = np.zeros((7, 8, 8), np.float32)
    prob[0] = 1.0
    prob[0, 2:6, 2:6], prob[5, 2:6, 2:6] = 0.2, 0.8
    csem, cprob, classes = compact_semantics(sem, prob)
    assert classes.tolist() == [0, 5] and cprob.shape == (2, 8, 8) and csem.max() == 1
    _, _, up = upsample_maps(np.zeros((8, 8), np.float32), cprob, (16, 16))
    full = classes[up]
    assert full[8, 8] == 5 and full[0, 0] == 0 and set(np.unique(full).tolist()) == {0, 5}
