"""MEP stage 3, the watershed (docs/MEP.md): grow the markers over the unlabelled pixels, by level-wise geodesic
growth on the boundary map (``flood``, ``flood_per_class``; C kernels or NumPy/OpenCV, the same maps) or by
``cv2.watershed`` on the image (``watershed_image``).
"""

from __future__ import annotations

import cv2
import numpy as np

from baiseg.errors import BaisegError
from baiseg.postprocess import kernels
from baiseg.postprocess.labels import mask_bbox, relabel, thing_classes


def flood(elevation: np.ndarray, markers: np.ndarray, allowed: np.ndarray | None = None, levels: int = 8) -> np.ndarray:
    """Marker-based watershed by level-wise geodesic growth (a fast approximation of priority flooding).

    For each elevation level ``t`` in ascending order, labels grow (8-connected, one pixel per step, larger id on a
    tie) into unlabelled allowed pixels with ``elevation <= t`` until nothing changes. With ``levels`` quantisation
    steps it equals a priority-flood watershed up to the order of pixels within one level.

    Args:
        elevation: float H x W; flooding goes from low to high.
        markers: int32 H x W, 0 = unlabelled, > 0 = seeds.
        allowed: bool H x W or None (all pixels); unallowed pixels stay as they are in ``markers``.
        levels: number of elevation levels between the minimum and maximum of ``elevation``.

    Returns:
        int32 H x W label map; unallowed or unreachable pixels keep their marker value (usually 0).

    Raises:
        BaisegError: a negative marker (no label; the two implementations would read it differently).
    """
    check_markers(markers)
    top = int(markers.max()) if markers.size else 0
    if kernels.USE_C_KERNELS and markers.ndim == 2:
        return _flood_c(elevation, markers, allowed, levels, top)
    if top < 255:
        lab = markers.astype(np.uint8)  # cv2.dilate: the narrower the type the faster
    else:
        lab = markers.astype(np.uint16 if top < 65535 else np.float32)
    todo = markers <= 0 if allowed is None else (markers <= 0) & allowed
    if not todo.any() or top <= 0:
        return markers.astype(np.int32)
    ev = np.asarray(elevation, np.float32)
    todo8 = todo.view(np.uint8)
    thresholds = flood_thresholds(ev, todo8, levels)
    x, y, w, h = cv2.boundingRect(todo8)  # work on the bounding box of the unlabelled pixels (plus one pixel)
    y0, y1, x0, x1 = max(y - 1, 0), min(y + h + 1, lab.shape[0]), max(x - 1, 0), min(x + w + 1, lab.shape[1])
    sub = np.ascontiguousarray(lab[y0:y1, x0:x1])
    sub_todo8, sub_ev = np.ascontiguousarray(todo8[y0:y1, x0:x1]), ev[y0:y1, x0:x1]
    for t in thresholds:
        open8 = cv2.bitwise_and(sub_todo8, (sub_ev <= t).view(np.uint8))
        x, y, w, h = cv2.boundingRect(open8)
        if w == 0:
            continue
        by0, by1 = max(y - 1, 0), min(y + h + 1, sub.shape[0])
        bx0, bx1 = max(x - 1, 0), min(x + w + 1, sub.shape[1])
        s, o = sub[by0:by1, bx0:bx1], open8[by0:by1, bx0:bx1]
        _grow_level_components(s, o)
        td = sub_todo8[by0:by1, bx0:bx1]
        cv2.bitwise_and(td, cv2.compare(s, 0, cv2.CMP_EQ), dst=td)  # labelled pixels are done
    lab[y0:y1, x0:x1] = sub
    return lab.astype(np.int32)


def check_markers(markers: np.ndarray) -> None:
    """Refuse negative markers (``flood``'s contract: 0 = unlabelled, > 0 = seeds), one line."""
    if markers.dtype.kind == "u" or markers.size == 0:  # unsigned: nothing to scan
        return
    low = int(markers.min())
    if low < 0:
        raise BaisegError(f"flood: markers must be >= 0 (0 = unlabelled, > 0 = seeds), got {low}")


def flood_thresholds(ev: np.ndarray, todo8: np.ndarray, levels: int) -> np.ndarray:
    """float64 ascending flooding levels of ``flood``: ``levels`` equal steps above the lowest to-do elevation up to the
    highest (one level when they are equal). ``native/flood.c`` computes the same per class for ``flood_per_class``."""
    lo, hi, _, _ = cv2.minMaxLoc(ev, mask=todo8)
    return np.linspace(lo, hi, max(int(levels), 1) + 1)[1:] if hi > lo else np.array([hi], np.float64)


def _flood_c(elevation: np.ndarray, markers: np.ndarray, allowed: np.ndarray | None, levels: int,
             top: int) -> np.ndarray:  # fmt: skip
    """``flood`` by the C extension (``native/flood.c``: the same levels, steps and ties, kept as lists of pixels)."""
    lab = np.array(markers, dtype=np.int32, order="C", copy=True)
    todo = lab == 0 if allowed is None else (lab == 0) & allowed
    if top <= 0 or not todo.any():
        return lab
    ev = np.ascontiguousarray(elevation, dtype=np.float32)
    todo8 = np.ascontiguousarray(todo).view(np.uint8)
    kernels.native.flood_levels(ev, lab, todo8, flood_thresholds(ev, todo8, levels), lab.shape[0], lab.shape[1])
    return lab


_KERNEL3 = np.ones((3, 3), np.uint8)


def _grow_steps(sub: np.ndarray, open8: np.ndarray, max_steps: int) -> bool:
    """At most ``max_steps`` steps of a level's growth for a label map whose unlabelled pixels hold 0: every open pixel
    takes the largest label of its 8 neighbours (0 while it has none) and leaves the open set once labelled.

    Returns:
        True when the growth is over (nothing open is left or nothing changed).
    """
    left = cv2.countNonZero(open8)
    for _ in range(max_steps):
        if not left:
            return True
        cv2.copyTo(cv2.dilate(sub, _KERNEL3), open8, sub)
        cv2.bitwise_and(open8, cv2.compare(sub, 0, cv2.CMP_EQ), dst=open8)
        now = cv2.countNonZero(open8)
        if now == left:
            return True
        left = now
    return not left


def _grow_level_components(sub: np.ndarray, open8: np.ndarray, recheck: int = 8) -> None:
    """A level's growth to its end (``_grow_steps`` until nothing changes), component by component. The growth has no
    memory (each step depends only on the current labels and open pixels), and the 8-connected components of the open
    pixels grow independently: after a few plain steps, a component whose next-step pixels (those next to a label)
    all see the same largest neighbour label is filled with that label at once (every later step can only copy it);
    the components that see two or more labels grow ``recheck`` steps, then their open rest is split into components
    again. Unlabelled pixels of ``sub`` must hold 0; ``open8`` (uint8 0/1) is used up."""
    while True:
        # A few steps everywhere first: small components end here (fewer components to label and look up).
        if _grow_steps(sub, open8, 3):
            return
        grown = cv2.dilate(sub, _KERNEL3)
        front = np.flatnonzero(cv2.bitwise_and(open8, cv2.compare(grown, 0, cv2.CMP_GT)).view(bool))
        if front.size == 0:  # no open pixel next to a label: nothing grows
            return
        k, comp = cv2.connectedComponents(open8, connectivity=8, ltype=cv2.CV_32S)
        cf, gv = comp.ravel()[front], grown.ravel()[front]
        cmax = np.zeros(k, grown.dtype)
        cmin = np.full(k, np.inf if grown.dtype.kind == "f" else np.iinfo(grown.dtype).max, grown.dtype)
        np.maximum.at(cmax, cf, gv)
        np.minimum.at(cmin, cf, gv)
        single = cmax == cmin  # every component in cf has cmax > 0; the untouched ones have cmax 0 < cmin
        multi = (cmax > 0) & ~single
        comp8 = comp.astype(np.uint8) if k <= 256 else None  # cv2.LUT: a 256-entry table
        if single.any():
            fill = np.zeros(max(k, 256), sub.dtype)
            fill[:k][single] = cmax[single]
            val = cv2.LUT(comp8, fill) if comp8 is not None else np.take(fill, comp)
            cv2.max(sub, val, dst=sub)  # open pixels hold 0, the others get 0 from val
        if not multi.any():
            return
        pick = np.zeros(max(k, 256), np.uint8)
        pick[:k] = multi
        open_m = cv2.LUT(comp8, pick) if comp8 is not None else np.take(pick, comp)
        x, y, w, h = cv2.boundingRect(open_m)
        y0, y1 = max(y - 1, 0), min(y + h + 1, sub.shape[0])
        x0, x1 = max(x - 1, 0), min(x + w + 1, sub.shape[1])
        sub, open8 = sub[y0:y1, x0:x1], np.ascontiguousarray(open_m[y0:y1, x0:x1])
        if _grow_steps(sub, open8, recheck):
            return


def flood_per_class(
    elevation: np.ndarray, markers: np.ndarray, semantic: np.ndarray, levels: int = 8, classes: list | None = None
) -> np.ndarray:
    """``flood`` inside each class region separately: a marker never grows into another class (a marker that spans
    two classes becomes one marker per class).

    Args:
        elevation: float H x W; markers: int32 H x W (0 = unlabelled); semantic: int H x W ids (0, 1..K, 255 void).
        levels: flooding levels.
        classes: the ``thing_classes`` of ``semantic`` when the caller has them (computed otherwise).

    Returns:
        int32 H x W label map, 0 outside the semantic foreground.
    """
    check_markers(markers)
    classes = thing_classes(semantic) if classes is None else classes
    if kernels.USE_C_KERNELS and semantic.dtype == np.uint8 and semantic.ndim == 2 and markers.shape == semantic.shape:
        return _flood_per_class_c(elevation, markers, semantic, levels, classes)
    return _flood_per_class_py(elevation, markers, semantic, levels, classes)


def _flood_per_class_py(elevation: np.ndarray, markers: np.ndarray, semantic: np.ndarray, levels: int,
                        classes: list) -> np.ndarray:  # fmt: skip
    """``flood_per_class`` class by class with ``flood`` (the fallback without the C kernels)."""
    out = np.zeros(markers.shape, np.int32)
    nxt = 0
    for c in classes:
        # Work in the class region's box with a 1-px frame: nothing outside the region is ever labelled.
        whole = semantic == c
        y0, y1, x0, x1 = mask_bbox(whole.view(np.uint8), pad=1)
        region = whole[y0:y1, x0:x1]
        m = np.where(region, markers[y0:y1, x0:x1], 0)
        if m.max() <= 0:
            continue
        grown = flood(elevation[y0:y1, x0:x1], relabel(m), region, levels)
        grown[~region] = 0
        top = int(grown.max())
        if top > 0:
            o = out[y0:y1, x0:x1]
            np.copyto(o, grown + nxt, where=grown > 0)
            nxt += top  # the labels of earlier classes are <= nxt
    return out


def _flood_per_class_c(elevation: np.ndarray, markers: np.ndarray, semantic: np.ndarray, levels: int,
                       classes: list) -> np.ndarray:  # fmt: skip
    """``flood_per_class`` by the C extension, all classes in one pass (``native/flood.c``)."""
    out = np.zeros(markers.shape, np.int32)
    if not classes:
        return out
    lut = np.zeros(256, np.uint8)
    lut[classes] = np.arange(1, len(classes) + 1)
    cls = cv2.LUT(semantic, lut)
    x, y, w, h = cv2.boundingRect(cls)  # every class pixel lies in this box
    box = np.asarray(markers)[y:y + h, x:x + w]
    top, bottom = int(box.max(initial=0)), int(box.min(initial=0))
    if top > _C_FLOOD_MAX_MARKER or bottom < np.iinfo(np.int32).min:  # too large a marker table, or not int32
        return _flood_per_class_py(elevation, markers, semantic, levels, classes)
    mk = np.ascontiguousarray(markers, dtype=np.int32)
    ev = np.ascontiguousarray(elevation, dtype=np.float32)
    kernels.native.flood_classes(ev, mk, cls, len(classes), max(int(levels), 1), out, out.shape[0], out.shape[1],
                          (y, y + h, x, x + w), top)  # fmt: skip
    return out


#: Largest marker id for the C per-class flood (its table has one entry per class and marker id).
_C_FLOOD_MAX_MARKER = 1 << 20


def watershed_image(image: np.ndarray, markers: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
    """``cv2.watershed`` of the image (priority = local colour difference) from the markers.

    Args:
        image: uint8 H x W x 3 (RGB or BGR; only colour differences matter).
        markers: int32 H x W, 0 = unlabelled, 1..N seeds.
        allowed: bool H x W or None; pixels outside are a barrier and end up 0.

    Returns:
        int32 H x W label map; watershed lines are given the label of a neighbour.
    """
    n = int(markers.max())
    m = markers.astype(np.int32).copy()
    if allowed is not None:
        m[~allowed] = n + 1
    cv2.watershed(np.ascontiguousarray(image, dtype=np.uint8), m)
    m[m == n + 1] = 0
    lines = m < 0
    if lines.any():
        m[lines] = 0
        grown = cv2.dilate(m.astype(np.float32), np.ones((3, 3), np.uint8)).astype(np.int32)
        m[lines] = grown[lines]
    if allowed is not None:
        m[~allowed] = 0
        if (allowed & (m == 0)).any():  # foreground flooded by the background barrier: give it to the nearest mask
            m = flood(np.zeros(m.shape, np.float32), m, allowed, levels=1)
    return m
