"""Hand-drawn inputs shared by the post-processing tests (fixture ``cases``; importlib mode has no test imports)."""

from __future__ import annotations

import types

import cv2
import numpy as np
import pytest


def contour(inst: np.ndarray) -> np.ndarray:
    """bool H x W: pixels whose right or lower neighbour has another instance id."""
    b = np.zeros(inst.shape, bool)
    b[:, 1:] |= inst[:, 1:] != inst[:, :-1]
    b[1:] |= inst[1:] != inst[:-1]
    return b


def blurred(edges: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """A boundary map like a trained network's: the blurred contour scaled so that a straight 1-px line peaks at 1
    (saturated ridges, as the class-balanced L_B produces), clipped to [0, 1]."""
    b = cv2.GaussianBlur(edges.astype(np.float32), (0, 0), sigma)
    line = np.zeros((1, 8 * int(np.ceil(sigma)) + 1), np.float32)
    line[0, line.shape[1] // 2] = 1
    peak = float(cv2.GaussianBlur(line, (0, 0), sigma)[0].max())  # 1 / (sqrt(2 pi) sigma), as OpenCV computes it
    return np.clip(b / peak, 0, 1).astype(np.float32)


def touching_discs(h: int = 120, w: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Two overlapping discs of one class split by a vertical line: (instance ids int32, semantic uint8)."""
    yy, xx = np.mgrid[:h, :w]
    d1 = np.hypot(yy - 60, xx - 70) < 40
    d2 = np.hypot(yy - 60, xx - 140) < 40
    inst = np.zeros((h, w), np.int32)
    inst[d1 | d2] = 1
    inst[(d1 | d2) & (xx >= 105)] = 2
    return inst, ((d1 | d2) * 1).astype(np.uint8)


@pytest.fixture(scope="session")
def cases() -> types.SimpleNamespace:
    return types.SimpleNamespace(contour=contour, blurred=blurred, touching_discs=touching_discs)
