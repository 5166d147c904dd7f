"""The semantic-contour label T, target of the boundary branch (docs/MODEL.md "Semantic-contour label T",
docs/DATA.md "Void bands").

A pixel is a contour pixel when one of its 4- or 8-neighbours has another (non-void) semantic label, so a label
change is marked on both sides (a 2-px line). Two touching instances of one class have no contour between them.
Void pixels (255) are always ignored (255 in T). Pixels next to void are ignored too by default
(``void_as_boundary=False``); with ``void_as_boundary=True`` they are contour pixels. Pixels outside the image
have no label (the image border is not a contour). ``width_px > 1`` dilates the contour by a square of
half-size ``width_px - 1`` before the ignore pixels are applied.

Void bands (``void_fill_px``): PASCAL VOC ``SegmentationClass`` draws a void band about 5 px wide along every object
outline, so without help no pixel of T would be a contour pixel (every label change is hidden in a band). Thin void
(bands at most ``2 * void_fill_px + 1`` px wide; wider void regions such as crowd or "difficult" objects stay void)
is first filled from the nearest labelled pixel; T is computed on the filled map, so an object's contour runs
through the middle of its band; the band pixels off that contour stay ignored (255). A band between two touching
objects of one class is filled with that class on both sides: no contour there (the semantic map has no instance
information, and T must not take it from the band).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

from baiseg.config import ConfigError
from baiseg.config_rules import RULES

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


def fill_void_bands(semantic: np.ndarray, max_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Fill thin void (255) from the nearest labelled pixel.

    Void pixels that a square of side ``2 * max_px + 1`` cannot cover while staying inside the void (bands at most
    that wide) take the label of the nearest non-void pixel (Euclidean); thicker void stays void.

    Args:
        semantic: int array H x W (0 = background, 1..K, 255 = void).
        max_px: band half-width; 0 returns the input unchanged.

    Returns:
        ``(filled, band)``: filled uint8/int array H x W (same dtype as ``semantic``) and bool H x W, True where a
        void pixel was filled.
    """
    sem = np.asarray(semantic)
    void = sem == IGNORE
    if max_px <= 0 or not void.any() or void.all():
        return sem, np.zeros(sem.shape, dtype=bool)
    k = 2 * int(max_px) + 1
    kernel = np.ones((k, k), dtype=np.uint8)
    # Opening keeps the void a k x k square fits into (thick void); the image border counts as void there, so a
    # band along the border is not mistaken for thick void.
    thick = cv2.morphologyEx(void.astype(np.uint8), cv2.MORPH_OPEN, kernel, borderType=cv2.BORDER_REPLICATE) > 0
    band = void & ~thick
    if not band.any():
        return sem, band
    _, (iy, ix) = ndimage.distance_transform_edt(void, return_indices=True)
    filled = sem.copy()
    filled[band] = sem[iy[band], ix[band]]
    return filled, band


def semantic_contour(
    semantic: np.ndarray,
    *,
    neighbourhood: int = 8,
    void_as_boundary: bool = False,
    width_px: int = 1,
    void_fill_px: int = 3,
) -> np.ndarray:
    """Compute T from a semantic mask.

    Args:
        semantic: int array H x W of semantic ids (0 = background, 1..K, 255 = void/ignore).
        neighbourhood: 4 or 8.
        void_as_boundary: False: pixels next to void are ignored (255); True: they are contour pixels (1).
        width_px: contour width option (>= 1); 1 = no dilation.
        void_fill_px: fill void bands up to ``2 * void_fill_px + 1`` px wide before computing T (module docstring);
            0 disables. Filled pixels off the contour are ignored (255).

    Returns:
        uint8 array H x W: 0 = not contour, 1 = contour, 255 = ignore.
    """
    if neighbourhood not in (4, 8):
        raise ConfigError(f"data.contour.neighbourhood must be 4 or 8, got {neighbourhood}")
    for key, value in (("width_px", width_px), ("void_fill_px", void_fill_px)):  # the config's rule (its bounds)
        ok, what = RULES[f"data.contour.{key}"]
        if not ok(int(value)):
            raise ConfigError(f"data.contour.{key} must be {what}, got {value}")
    sem = np.asarray(semantic)
    if sem.ndim != 2:
        raise ValueError(f"semantic must be H x W, got shape {sem.shape}")
    sem, band = fill_void_bands(sem, int(void_fill_px))
    out = _contour(sem.astype(np.int32), neighbourhood, void_as_boundary, int(width_px))
    out[band & (out == 0)] = IGNORE
    return out


def contour_from_filled(
    filled: np.ndarray, band: np.ndarray, *, neighbourhood: int = 8, void_as_boundary: bool = False,
    width_px: int = 1,
) -> np.ndarray:
    """T of a map already filled by ``fill_void_bands`` (e.g. filled at the original resolution, then scaled and
    cropped): ``semantic_contour(filled, void_fill_px=0)`` with the ``band`` pixels off the contour ignored.

    Args:
        filled: int array H x W, band pixels already filled.
        band: bool H x W, the filled pixels.

    Returns:
        uint8 array H x W: 0 / 1 / 255.
    """
    out = semantic_contour(filled, neighbourhood=neighbourhood, void_as_boundary=void_as_boundary,
                           width_px=width_px, void_fill_px=0)  # fmt: skip
    out[np.asarray(band, dtype=bool) & (out == 0)] = IGNORE
    return out


def _contour(sem: np.ndarray, neighbourhood: int, void_as_boundary: bool, width_px: int) -> np.ndarray:
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
        r = width_px - 1
        kernel = np.ones((2 * r + 1, 2 * r + 1), dtype=np.uint8)
        contour = cv2.dilate(contour.astype(np.uint8), kernel).astype(bool)
    out = contour.astype(np.uint8)
    if not void_as_boundary:
        out[near_void] = IGNORE
    out[void] = IGNORE
    return out
