"""The fast ``flood`` gives exactly the labels of plain level-wise geodesic growth, in both implementations: the C
extension (``baiseg/postprocess/native/``, the default) and the Python/OpenCV one (the fallback)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from baiseg.errors import BaisegError
from baiseg.postprocess import kernels
from baiseg.postprocess.flood import flood, flood_per_class
from baiseg.postprocess.labels import relabel


@pytest.fixture(params=["c", "python"], autouse=True)
def implementation(request, monkeypatch):
    monkeypatch.setattr(kernels, "USE_C_KERNELS", request.param == "c")
    return request.param


def flood_steps(elevation: np.ndarray, markers: np.ndarray, allowed: np.ndarray | None, levels: int) -> np.ndarray:
    """The definition: per level, grow one pixel per step (8-connected, larger label on a tie) until nothing changes."""
    lab = markers.astype(np.int64)
    todo = markers <= 0 if allowed is None else (markers <= 0) & allowed
    if not todo.any() or markers.max() <= 0:
        return markers.astype(np.int32)
    ev = elevation.astype(np.float32)
    lo, hi = float(ev[todo].min()), float(ev[todo].max())
    thresholds = np.linspace(lo, hi, levels + 1)[1:] if hi > lo else [hi]
    for t in thresholds:
        open_ = todo & (ev <= t)
        while True:
            pad, (hh, ww) = np.pad(lab, 1), lab.shape
            grown = np.max([pad[dy : dy + hh, dx : dx + ww] for dy in range(3) for dx in range(3)], 0)
            new = open_ & (grown > 0)
            if not new.any():
                break
            lab[new] = grown[new]
            open_ &= ~new
            todo &= ~new
    return lab.astype(np.int32)


@pytest.mark.parametrize("seed", range(12))
def test_flood_equals_stepwise_growth(seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(8, 90, 2)
    ev = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), float(rng.choice([0.5, 3.0])))
    markers = np.zeros((h, w), np.int32)
    k = int(rng.integers(1, 25))
    top = int(rng.choice([3, 40, 400, 70000]))  # uint8, uint16 and float32 label paths
    markers[rng.integers(0, h, k), rng.integers(0, w, k)] = rng.integers(1, top + 1, k)
    allowed = None if seed % 2 else cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 2) > 0.45
    for levels in (1, 8, 40):
        assert np.array_equal(flood(ev, markers, allowed, levels), flood_steps(ev, markers, allowed, levels))


@pytest.mark.parametrize("case", ["no markers", "all labelled", "nan", "one pixel", "one row", "flat"])
def test_flood_edge_cases(case):
    rng = np.random.default_rng(0)
    ev, markers, allowed = rng.random((9, 11)).astype(np.float32), np.zeros((9, 11), np.int32), None
    markers[2, 3], markers[6, 8] = 1, 2
    if case == "no markers":
        markers[:] = 0
    elif case == "all labelled":
        markers[:] = 3
    elif case == "nan":
        ev[4, :] = np.nan
        allowed = np.ones_like(markers, bool)
    elif case == "one pixel":
        ev, markers = ev[:1, :1], np.ones((1, 1), np.int32)
    elif case == "one row":
        ev, markers = ev[:1], markers[2:3]
    elif case == "flat":
        ev[:] = 0.5
    want = flood_steps(ev, markers, allowed, 8) if case != "nan" else None
    got = flood(ev, markers, allowed, 8)
    if want is not None:
        assert np.array_equal(got, want)
    else:  # NaN pixels never open (elevation <= t is false); both implementations agree on the rest
        kernels.USE_C_KERNELS = not kernels.USE_C_KERNELS
        assert np.array_equal(got, flood(ev, markers, allowed, 8))
        assert (got[4] == 0).all() and got.dtype == np.int32


def test_negative_markers_are_refused_by_both_implementations():
    # the NumPy path wrapped a negative marker to label 65535 while the C path took it as 0: neither is a label
    ev = np.zeros((4, 5), np.float32)
    markers = np.zeros((4, 5), np.int32)
    markers[1, 1], markers[2, 3] = 2, -3
    with pytest.raises(BaisegError, match="markers must be >= 0 .* got -3"):
        flood(ev, markers)
    with pytest.raises(BaisegError, match="markers must be >= 0 .* got -3"):
        flood_per_class(ev, markers, np.ones((4, 5), np.uint8))


def flood_per_class_steps(ev, markers, sem, levels):
    """The definition of ``flood_per_class``: each class region flooded on its own, numbered class after class."""
    out, nxt = np.zeros(markers.shape, np.int32), 0
    for c in [c for c in np.unique(sem).tolist() if c not in (0, 255)]:
        region = sem == c
        m = relabel(np.where(region, markers, 0))
        if m.max() <= 0:
            continue
        grown = flood_steps(ev, m, region, levels)
        grown[~region] = 0
        out[grown > 0] = grown[grown > 0] + nxt
        nxt = int(out.max())
    return out


@pytest.mark.parametrize("seed", range(10))
def test_flood_per_class_equals_stepwise_growth(seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(6, 80, 2)
    ev = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), float(rng.choice([0.7, 2.0])))
    ncls = int(rng.integers(1, 5))
    sem = ((cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 3) * 9).astype(np.uint8) % (ncls + 1))
    sem[rng.random((h, w)) < 0.03] = 255  # void specks
    sem = np.where(sem == 2, 7, sem).astype(np.uint8)  # class ids need not be consecutive
    markers = np.zeros((h, w), np.int32)
    k = int(rng.integers(0, 30))
    markers[rng.integers(0, h, k), rng.integers(0, w, k)] = rng.integers(1, 500, k)
    markers[0, : w // 3] = 3  # a marker across classes becomes one marker per class
    for levels in (1, 8, 40):
        want = flood_per_class_steps(ev, markers, sem, levels)
        assert np.array_equal(flood_per_class(ev, markers, sem, levels), want), levels


def test_flood_per_class_edge_cases():
    ev = np.random.default_rng(1).random((5, 6)).astype(np.float32)
    markers = np.zeros((5, 6), np.int32)
    markers[1, 1] = 4
    for sem in (np.zeros((5, 6), np.uint8), np.full((5, 6), 255, np.uint8), np.ones((5, 6), np.uint8)):
        assert np.array_equal(flood_per_class(ev, markers, sem, 8), flood_per_class_steps(ev, markers, sem, 8))
    flat = np.zeros((5, 6), np.float32)  # one level only: every class pixel is reached
    assert (flood_per_class(flat, markers, np.ones((5, 6), np.uint8), 8) == 1).all()


def test_flood_per_class_with_large_marker_ids():
    rng = np.random.default_rng(2)
    ev = rng.random((20, 30)).astype(np.float32)
    sem = np.ones((20, 30), np.uint8)
    sem[:, 15:] = 3
    markers = np.zeros((20, 30), np.int64)
    markers[5, 5], markers[10, 20] = 2**22, 7  # a large id
    want = flood_per_class_steps(ev, markers, sem, 8)
    assert np.array_equal(flood_per_class(ev, markers, sem, 8), want)
    assert set(np.unique(want)) == {1, 2}
    markers[15, 3] = -(2**40)  # below int32: refused, not wrapped around
    with pytest.raises(BaisegError, match="markers must be >= 0"):
        flood_per_class(ev, markers, sem, 8)
