"""The C kernels of the MEP (``baiseg/postprocess/native/``) are built and agree with their Python fallbacks."""

from __future__ import annotations

import numpy as np
import pytest

from baiseg.postprocess import mep


def test_the_c_kernels_are_built():
    assert mep._native is not None, "the MEP's C kernels are not built: pip install -e . (needs gcc and Python headers)"


@pytest.mark.parametrize("seed", range(6))
def test_label_boxes_c_equals_python(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(1, 60, 2)
    labels = rng.integers(-2, 9, (h, w)).astype(np.int32)
    labels[rng.random((h, w)) < 0.6] = 0
    for n in (0, 3, 8, 12):  # labels above n are skipped; n above the largest label gives empty boxes
        monkeypatch.setattr(mep, "USE_C_KERNELS", True)
        c = mep.label_boxes(labels, n)
        monkeypatch.setattr(mep, "USE_C_KERNELS", False)
        py = mep.label_boxes(labels, n)
        assert c.dtype == py.dtype and np.array_equal(c, py), n
        for i in range(1, n + 1):
            ys, xs = np.nonzero(labels == i)
            if ys.size:
                assert tuple(c[i]) == (ys.min(), ys.max(), xs.min(), xs.max())
            else:
                assert c[i, 1] < c[i, 0]


def test_bad_buffers_get_a_clear_error():
    if mep._native is None:
        pytest.skip("C kernels not built")
    with pytest.raises(ValueError, match="labels"):
        mep._native.label_boxes(np.zeros((3, 3), np.int64), 1, np.zeros((2, 4), np.int64), 3, 3)
    with pytest.raises(ValueError, match="boxes"):
        mep._native.label_boxes(np.zeros((3, 3), np.int32), 5, np.zeros((2, 4), np.int64), 3, 3)


def _regions(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import cv2

    rng = np.random.default_rng(seed)
    h, w = rng.integers(1, 70, 2)
    labels = (cv2.resize(rng.integers(0, 12, (4, 5)).astype(np.uint8), (int(w), int(h)),
                         interpolation=cv2.INTER_NEAREST)).astype(np.int32)  # fmt: skip
    labels[rng.random((h, w)) < 0.05] = 0
    sem = np.where(rng.random((h, w)) < 0.1, 2, 1).astype(np.uint8)
    sem[labels == 0] = rng.choice([0, 255])
    b = rng.random((h, w)).astype(np.float32)
    return labels, b, sem


@pytest.mark.parametrize("seed", range(8))
def test_border_strengths_and_open_border_c_equal_python(seed, monkeypatch):
    from baiseg.postprocess.merge import border_strengths, open_border

    labels, b, sem = _regions(seed)
    out = {}
    for use_c in (True, False):
        monkeypatch.setattr(mep, "USE_C_KERNELS", use_c)
        out[use_c] = (*border_strengths(labels, b, sem), open_border(labels, sem))
    for c, py in zip(out[True], out[False], strict=True):
        assert c.dtype == py.dtype and c.shape == py.shape and np.array_equal(c, py)  # sums bit-identical


def test_merge_is_identical_with_and_without_the_c_kernels(monkeypatch):
    from baiseg.postprocess.merge import merge_weak_borders

    for seed in range(6):
        labels, b, sem = _regions(seed + 20)
        res = {}
        for use_c in (True, False):
            monkeypatch.setattr(mep, "USE_C_KERNELS", use_c)
            res[use_c] = merge_weak_borders(labels, b, sem, thr=0.5, min_area_px=20, enclosed=True, neck_ratio=0.6)
        assert np.array_equal(res[True], res[False])


@pytest.mark.parametrize("seed", range(6))
def test_peak_seeds_c_equal_numpy(seed):
    """The C seeds equal NumPy's formula on the same distance map (OpenCV's exact distance transform itself may
    differ in the last bit from one call to the next, so both sides get one map)."""
    import cv2

    if mep._native is None:
        pytest.skip("C kernels not built")
    rng = np.random.default_rng(seed)
    h, w = rng.integers(3, 90, 2)
    region = (cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 3) > 0.5).astype(np.uint8)
    k, comp = cv2.connectedComponents(region, connectivity=8, ltype=cv2.CV_32S)
    d = cv2.distanceTransform(region, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    for frac in (0.0, 0.3, 0.7, 1.0, 0.45):
        peak = mep.label_maximum(d, comp, k)
        want = (d > frac * peak[comp]) & (comp > 0)
        got = np.empty(d.shape, bool)
        mep._native.peak_seeds(d, comp, int(k), frac, got.view(np.uint8), d.size)
        assert np.array_equal(got, want), frac
    with pytest.raises(ValueError, match="component id"):
        mep._native.peak_seeds(d, comp, 1, 0.5, got.view(np.uint8), d.size)


def test_without_refinement_masks_leak_only_into_a_band_around_the_foreground():
    """refine=false (Table 3's rows before "+refinement"): the flood stays within UNREFINED_BAND_PX of the semantic
    foreground (it used to cover the whole image)."""
    import cv2

    from baiseg.config import MEPConfig

    sem = np.zeros((60, 80), np.uint8)
    sem[10:50, 10:35] = 1
    sem[10:50, 45:70] = 1
    sem[28:32, 20:24] = 0  # a hole in the first object
    b = np.full(sem.shape, 0.05, np.float32)
    labels = mep.extract_masks(b, sem, cfg=MEPConfig(refine=False))
    far = ~mep.unrefined_region(mep.foreground(sem))
    assert labels.max() == 2 and (labels[far] == 0).all()
    assert labels[8, 20] > 0 and labels[51, 60] > 0  # diffusion into the band around the objects
    k = 2 * mep.UNREFINED_BAND_PX + 1
    assert cv2.dilate(mep.foreground(sem).view(np.uint8), np.ones((k, k), np.uint8)).sum() >= (labels > 0).sum()
    refined = mep.extract_masks(b, sem, cfg=MEPConfig())
    assert (refined[sem == 0] == 0).all() and refined.max() == 2


@pytest.mark.parametrize("seed", range(8))
def test_exact_distance_is_exact(seed, monkeypatch):
    """The C distance transform is sqrtf of the brute-force squared distance to the nearest zero pixel, and within one
    float32 ulp of OpenCV's DIST_MASK_PRECISE (the fallback), including a region without any zero pixel."""
    import cv2

    rng = np.random.default_rng(seed)
    h, w = rng.integers(1, 50, 2)
    region = (cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 2) > 0.45).astype(np.uint8)
    if seed == 7:
        region[:] = 1
    monkeypatch.setattr(mep, "USE_C_KERNELS", True)
    d = mep.exact_distance(region)
    monkeypatch.setattr(mep, "USE_C_KERNELS", False)
    ref = mep.exact_distance(region)
    assert d.dtype == np.float32 and d.shape == region.shape
    assert (np.abs(d - ref) <= np.spacing(np.maximum(ref, np.float32(1e-30)))).all()
    ys, xs = np.nonzero(region == 0)
    if ys.size:
        yy, xx = np.mgrid[:h, :w]
        d2 = ((yy[..., None] - ys) ** 2 + (xx[..., None] - xs) ** 2).min(-1)
        assert np.array_equal(d, np.sqrt(d2.astype(np.float32)))
    else:
        assert np.array_equal(d, ref)  # no zero pixel: OpenCV's value


def test_border_strengths_skip_negative_labels_in_both_paths(monkeypatch):
    from baiseg.postprocess.merge import border_strengths

    labels, b, sem = _regions(3)
    labels[::3, ::4] = -1
    out = {}
    for use_c in (True, False):
        monkeypatch.setattr(mep, "USE_C_KERNELS", use_c)
        out[use_c] = border_strengths(labels, b, sem)
    assert all(np.array_equal(c, py) for c, py in zip(out[True], out[False], strict=True))
    assert (out[True][0] > 0).all()


@pytest.mark.parametrize("channels", [1, 2, 21, 81, 256])
def test_argmax_channels_c_equals_numpy_with_ties(channels, monkeypatch):
    from baiseg.predictor import argmax_channels

    rng = np.random.default_rng(channels)
    h, w = 37, 4100 // 37 + 3  # more pixels than one block of the kernel, not a multiple of it
    prob = rng.integers(0, 4, (channels, h, w)).astype(np.float32) / 4  # many equal maxima: the first must win
    monkeypatch.setattr(mep, "USE_C_KERNELS", True)
    c = argmax_channels(prob)
    assert c.dtype == np.uint8 and np.array_equal(c, prob.argmax(0))
    monkeypatch.setattr(mep, "USE_C_KERNELS", False)
    assert np.array_equal(argmax_channels(prob), c)
    monkeypatch.setattr(mep, "USE_C_KERNELS", True)
    view = prob[:, ::2]  # not contiguous: the NumPy path
    assert np.array_equal(argmax_channels(view), view.argmax(0))
