"""The semantic-contour label T (DESIGN §4), target of the boundary branch.

A pixel is a contour pixel when one of its 4- or 8-neighbours has another (non-void) semantic label, so a label
change is marked on both sides (a 2-px line). Two touching instances of one class have no contour between them.
Void pixels (255) are always ignored (255 in T). Pixels next to void are ignored too by default
(``void_as_boundary=False``); with ``void_as_boundary=True`` they are contour pixels. Pixels outside the image
have no label (the image border is not a contour). ``width_px > 1`` dilates the contour by a square of
half-size ``width_px - 1`` before the ignore pixels are applied.
"""

from __future__ import annotations

import cv2
import numpy as np

from baiseg.config import ConfigError

IGNORE = 255

_SHIFTS_4 = [(-1, 0), (1, 0), (0, -1), (0, 1)]
_SHIFTS_8 = _SHIFTS_4 + [(-1, -1), (-1, 1), (1, -1), (1, 1)]


def _shifted(a: np.ndarray, dy: int, dx: int, fill: int) -> np.ndarray:
    """``out[y, x] = a[y + dy, x + dx]``, ``fill`` outside the array."""
    h, w = a.shape
    out = np.full_like(a, fill)
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[ys, xs] = a[yd, xd]
    return out


def semantic_contour(
    semantic: np.ndarray, *, neighbourhood: int = 8, void_as_boundary: bool = False, width_px: int = 1
) -> np.ndarray:
    """Compute T from a semantic mask.

    Args:
        semantic: int array H x W of semantic ids (0 = background, 1..K, 255 = void/ignore).
        neighbourhood: 4 or 8.
        void_as_boundary: False: pixels next to void are ignored (255); True: they are contour pixels (1).
        width_px: contour width option (>= 1); 1 = no dilation.

    Returns:
        uint8 array H x W: 0 = not contour, 1 = contour, 255 = ignore.
    """
    if neighbourhood not in (4, 8):
        raise ConfigError(f"data.contour.neighbourhood must be 4 or 8, got {neighbourhood}")
    if int(width_px) < 1:
        raise ConfigError(f"data.contour.width_px must be >= 1, got {width_px}")
    sem = np.asarray(semantic)
    if sem.ndim != 2:
        raise ValueError(f"semantic must be H x W, got shape {sem.shape}")
    sem = sem.astype(np.int32)
    void = sem == IGNORE
    sentinel = -1  # outside the image: no label
    contour = np.zeros(sem.shape, dtype=bool)
    near_void = np.zeros(sem.shape, dtype=bool)
    for dy, dx in _SHIFTS_4 if neighbourhood == 4 else _SHIFTS_8:
        nb = _shifted(sem, dy, dx, sentinel)
        contour |= (nb != sem) & (nb != sentinel) & (nb != IGNORE)
        near_void |= nb == IGNORE
    contour &= ~void
    near_void &= ~void
    if void_as_boundary:
        contour |= near_void
    if width_px > 1:
        r = int(width_px) - 1
        kernel = np.ones((2 * r + 1, 2 * r + 1), dtype=np.uint8)
        contour = cv2.dilate(contour.astype(np.uint8), kernel).astype(bool)
    out = contour.astype(np.uint8)
    if not void_as_boundary:
        out[near_void] = IGNORE
    out[void] = IGNORE
    return out
