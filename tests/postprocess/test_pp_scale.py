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


def test_nearest_resizes_sample_pixel_centres():
    # Masks and semantic maps are resized nearest-neighbour at the pixel centres (cv2.INTER_NEAREST_EXACT), the
    # convention of the half-pixel bilinear probabilities beside them: a resize then commutes with a mirror flip.
    # (cv2.INTER_NEAREST floors: 3 -> 5 columns gave [0, 0, 1, 1, 2], not the symmetric [0, 0, 1, 2, 2].)
    from baiseg.postprocess.methods import instances_from_semantic  # noqa: F401 (scale imports it lazily)
    from baiseg.postprocess.scale import instances_at_size, resize_masks

    masks = np.zeros((3, 2, 3), bool)
    for i in range(3):
        masks[i, :, i] = True
    big = resize_masks(masks, 2, 5)
    assert big[:, 0].argmax(0).tolist() == [0, 0, 1, 2, 2]
    sem = np.repeat(np.array([[1, 2]], np.uint8).repeat(3, 1), 6, 0)  # 6 x 6: classes 1 | 2, three columns each
    sem[:, 1] = sem[:, 4] = 3  # the centre column of each 3-column block
    _, used, _ = instances_at_size("cc", sem, np.zeros((2, 2), np.float32), (6, 6), mep_at="work")
    assert used.tolist() == [[3, 3], [3, 3]]  # 3x shrink: each block's centre pixel, not its top-left one


def test_train_transform_rescales_labels_at_pixel_centres():
    from baiseg.data.transforms import TrainTransform

    t = TrainTransform(crop_size=10, scale_min=10 / 3, scale_max=10 / 3, hflip=False, color_jitter=0.0)
    sem = np.array([[1, 2, 3]] * 3, np.uint8)
    out = t({"image": np.zeros((3, 3, 3), np.uint8), "semantic": sem}, np.random.default_rng(0))
    assert out["semantic"][5].tolist() == [1, 1, 1, 2, 2, 2, 2, 3, 3, 3]  # INTER_NEAREST: 1 1 1 1 2 2 2 3 3 3
