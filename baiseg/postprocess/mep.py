"""The Mask Extraction Pipeline (paper §3.6; docs/MEP.md, docs/DEVIATIONS.md): boundary map + semantic map ->
class-agnostic label map.

Stages, each a pure function over NumPy arrays and each switchable in ``MEPConfig``:

1. ``boundary_nms`` (nms.py): thin the boundary map to ridges.
2. ``make_markers``: threshold the ridges, dilate, take the inverse inside the semantic foreground, optionally keep
   only "sure foreground" (distance to the boundary > ``sure_fg_px``), label connected components (4-connected).
3. ``flood`` (watershed of the boundary map, the default) or ``watershed_image`` (cv2.watershed of the image): grow
   the markers over the unlabelled pixels; restricted to the semantic foreground when refinement is on.
4. ``refine``: closing / hole filling per mask, semantic filter, foreground without markers as masks, min area.

Label maps are int32 H x W: 0 = no instance, 1..N = instance ids (consecutive).
"""

from __future__ import annotations

import dataclasses
import os

import cv2
import numpy as np

from baiseg.config import MEPConfig
from baiseg.errors import BaisegError
from baiseg.postprocess.adapt import adapted
from baiseg.postprocess.nms import boundary_nms, check_finite_map

try:  # the C kernels (native/, built by setup.py at install); without them the NumPy/OpenCV code gives the same maps
    from baiseg.postprocess import _native
except ImportError:  # pragma: no cover - depends on the build
    _native = None

#: Set to False to use the NumPy/OpenCV code everywhere (tests compare both; BAISEG_NO_C_KERNELS=1 does the same).
USE_C_KERNELS = _native is not None and not os.environ.get("BAISEG_NO_C_KERNELS")


def foreground(semantic: np.ndarray) -> np.ndarray:
    """bool H x W: pixels of a thing class (semantic id 1..254; 0 = background, 255 = void are excluded)."""
    return (semantic > 0) & (semantic != 255)


def relabel(labels: np.ndarray) -> np.ndarray:
    """Renumber the positive labels of an int label map to 1..N, keeping their order (negative values -> 0)."""
    lab = np.maximum(labels, 0)
    top = int(lab.max()) if lab.size else 0
    if top == 0:
        return np.zeros(labels.shape, np.int32)
    present = np.bincount(lab.ravel(), minlength=top + 1) > 0
    present[0] = False
    lut = np.cumsum(present).astype(np.int32)
    lut[0] = 0
    if lut[-1] == top:
        return lab.astype(np.int32, copy=False)
    return np.take(lut, lab)


def drop_small(labels: np.ndarray, min_px: int) -> np.ndarray:
    """Set the labels with fewer than ``min_px`` pixels to 0 and renumber."""
    if min_px <= 1 or labels.max() <= 0:
        return labels
    counts = np.bincount(labels.ravel(), minlength=int(labels.max()) + 1)
    small = counts < min_px
    small[0] = False
    if small.any():
        labels = np.where(small[labels], 0, labels).astype(np.int32)
    return relabel(labels)


def region_distance_seeds(region: np.ndarray, peak_frac: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact Euclidean distance to the outside of a binary region and its seeds: the pixels whose distance exceeds
    ``peak_frac`` x the maximum of their 8-connected component (the seeds of the ``dtws`` baseline).

    Args:
        region: uint8 / bool H x W.
        peak_frac: in [0, 1).

    Returns:
        ``(float32 H x W distance, bool H x W seeds)``.
    """
    region = np.asarray(region, np.uint8)
    dist = np.zeros(region.shape, np.float32)
    seeds = np.zeros(region.shape, bool)
    box = _bbox(region, pad=1)  # the distance to the outside is the same in the region's box with a 1-px frame
    if box is None:
        return dist, seeds
    y0, y1, x0, x1 = box
    dist[y0:y1, x0:x1], seeds[y0:y1, x0:x1] = _distance_seeds_in_box(region[y0:y1, x0:x1], peak_frac)
    return dist, seeds


def exact_distance(region: np.ndarray) -> np.ndarray:
    """float32 H x W exact Euclidean distance of every pixel to the nearest zero pixel of a uint8 region (pixels
    outside the array do not count). The C kernel (``_native.edt``) takes sqrtf of the exact integer squared
    distance; OpenCV's ``DIST_MASK_PRECISE`` (the fallback) agrees within one float32 ulp (and is not always the same
    from one call to the next)."""
    sub = np.ascontiguousarray(region, dtype=np.uint8)
    if USE_C_KERNELS and sub.ndim == 2:
        d = np.empty(sub.shape, np.float32)
        _native.edt(sub, d, sub.shape[0], sub.shape[1])
        return d
    return cv2.distanceTransform(sub, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def _distance_seeds_in_box(sub: np.ndarray, peak_frac: float) -> tuple[np.ndarray, np.ndarray]:
    """``region_distance_seeds`` of a uint8 region cropped to its box with a 1-px frame (clipped at the image border:
    the distance to the outside is the same as in the whole image)."""
    k, comp = cv2.connectedComponents(sub, connectivity=8, ltype=cv2.CV_32S)
    d = exact_distance(sub)
    # the same float32 arithmetic in C (a Python float times a float32 array stays float32 in NumPy)
    if USE_C_KERNELS and type(peak_frac) in (float, int) and d.flags.c_contiguous and comp.flags.c_contiguous:
        seeds = np.empty(d.shape, bool)
        _native.peak_seeds(d, comp, int(k), float(peak_frac), seeds.view(np.uint8), d.size)
        return d, seeds
    if k == 2:  # one component: its maximum is the maximum (the distance is 0 outside, > 0 inside)
        peak = np.array([0.0, d.max()], np.float32)
    else:
        peak = label_maximum(d, comp, k)
    return d, (d > peak_frac * peak[comp]) & (comp > 0)


def label_maximum(values: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """float32 k: the maximum of ``values`` over each label 0..k-1 (0 for an empty label; values >= 0)."""
    peak = np.zeros(k, np.float32)
    inside = labels > 0
    np.maximum.at(peak, labels[inside], values[inside])
    return peak


def _bbox(mask: np.ndarray, pad: int = 0) -> tuple[int, int, int, int] | None:
    """``(y0, y1, x0, x1)`` (exclusive ends) of the non-zero pixels grown by ``pad`` (clipped); None when empty."""
    x, y, w, h = cv2.boundingRect(np.asarray(mask, np.uint8))
    if w == 0 or h == 0:
        return None
    hh, ww = mask.shape
    return max(y - pad, 0), min(y + h + pad, hh), max(x - pad, 0), min(x + w + pad, ww)


def thing_classes(semantic: np.ndarray) -> list:
    """The thing class ids (1..254) present in a semantic map, ascending."""
    if semantic.dtype == np.uint8 and semantic.ndim == 2:  # a histogram is much faster than np.unique
        ids = np.flatnonzero(cv2.calcHist([semantic], [0], None, [256], [0, 256]).ravel())
    else:
        ids = np.unique(semantic)
    return [c for c in ids.tolist() if c != 0 and c != 255]


def distance_seeds(semantic: np.ndarray, peak_frac: float, classes: list | None = None) -> np.ndarray:
    """bool H x W: ``region_distance_seeds`` of every class region (ids 1..254, or ``classes`` when given: the
    ``thing_classes`` of the map) of a semantic map."""
    seeds = np.zeros(semantic.shape, bool)
    for c in thing_classes(semantic) if classes is None else classes:
        region = (semantic == c).view(np.uint8)
        box = _bbox(region, pad=1)
        if box is None:  # a class wholly covered by the boundary band (marker_band)
            continue
        y0, y1, x0, x1 = box
        seeds[y0:y1, x0:x1] |= _distance_seeds_in_box(np.ascontiguousarray(region[y0:y1, x0:x1]), peak_frac)[1]
    return seeds


def banded_semantic(boundary_prob: np.ndarray, semantic: np.ndarray, fg: np.ndarray, band: float,
                    min_free: float, max_px: float = 0.0) -> np.ndarray:
    """The semantic map minus the boundary band (probability >= ``band``), in the foreground components where the band
    is a thin line: a component keeps its band-free pixels only when they are at least ``min_free`` of its area. Where
    the network fires over most of an object (texture inside a pedestrian, a nucleus too small to have an inside), the
    band says nothing about where one object ends, and the component is left whole. With ``max_px > 0`` only
    components whose largest distance to the background is at most ``max_px`` (objects a few band widths across, in
    which the band cannot be texture) are banded.

    Returns:
        the semantic map's dtype, H x W.
    """
    in_band = boundary_prob >= band
    out = np.where(in_band, 0, semantic).astype(semantic.dtype)
    if min_free <= 0 and max_px <= 0:
        return out
    fg8 = fg.view(np.uint8) if fg.dtype == bool else fg.astype(np.uint8)
    n, comp = cv2.connectedComponents(fg8, connectivity=8, ltype=cv2.CV_32S)
    flat = comp.ravel()
    area = np.bincount(flat, minlength=n)
    free = area - np.bincount(flat[in_band.ravel()], minlength=n)
    whole = free < min_free * np.maximum(area, 1)
    if max_px > 0:  # the components holding a pixel deeper than max_px (few pixels: no per-label maximum needed)
        whole |= np.bincount(comp[exact_distance(fg8) > max_px], minlength=n) > 0
    whole[0] = False
    if whole.any():
        keep = whole[comp]
        out[keep] = semantic[keep]
    return out


def make_markers(
    boundary_prob: np.ndarray, fg: np.ndarray, cfg: MEPConfig, semantic: np.ndarray | None = None,
    *, classes: list | None = None, checked: bool = False,
) -> np.ndarray:
    """Markers: connected regions of the semantic foreground that are not boundary (``marker_source: boundary``), or
    the distance cores of the semantic mask cut by the boundary ridges (``marker_source: distance``).

    Args:
        boundary_prob: float32 H x W in [0, 1].
        fg: bool H x W, the semantic foreground.
        semantic: int H x W semantic ids (needed with ``marker_source: distance``).
        cfg: uses ``nms``, ``nms_margin``, ``nms_smooth_sigma``, ``boundary_thr``, ``boundary_dilate_px``,
            ``sure_fg``, ``sure_fg_px``, ``marker_source``, ``dtws_peak_frac``, ``min_marker_px``.
        classes: the ``thing_classes`` of ``semantic`` when the caller has them (computed otherwise).
        checked: the caller has checked that the boundary map is finite (``check_finite_map``).

    Returns:
        int32 H x W label map of the markers (0 = no marker).
    """
    ridges = boundary_prob
    if cfg.nms:
        ridges = boundary_nms(
            boundary_prob, margin=cfg.nms_margin, sigma=cfg.nms_smooth_sigma, min_value=cfg.boundary_thr,
            check=not checked,
        )
    edges = (ridges > cfg.boundary_thr).astype(np.uint8)
    if cfg.boundary_dilate_px > 0:
        k = 2 * int(cfg.boundary_dilate_px) + 1
        edges = cv2.dilate(edges, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    if cfg.marker_source == "distance":  # shape cores of the semantic mask (dtws seeds), cut by the ridges
        cores_of = semantic
        if cfg.marker_band > 0:  # cores of the mask minus the boundary band: one per blob the band separates
            cores_of = banded_semantic(boundary_prob, semantic, fg, cfg.marker_band, cfg.marker_band_min_free,
                                       cfg.marker_band_max_px)
        interior = (distance_seeds(cores_of, cfg.dtws_peak_frac, classes) & (edges == 0)).astype(np.uint8)
    elif cfg.marker_source == "boundary":
        interior = (fg & (edges == 0)).astype(np.uint8)
        if cfg.sure_fg:
            dist = cv2.distanceTransform(interior, cv2.DIST_L2, 3)
            interior = (dist > cfg.sure_fg_px).astype(np.uint8)
    else:
        raise BaisegError(f"mep.marker_source={cfg.marker_source!r} is not valid: use 'boundary' or 'distance'")
    conn = 8 if cfg.marker_source == "distance" else 4  # distance cores: as the dtws baseline labels its seeds
    _, markers = cv2.connectedComponents(interior, connectivity=conn, ltype=cv2.CV_32S)
    return drop_small(markers, cfg.min_marker_px)


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
    """
    top = int(markers.max()) if markers.size else 0
    exact_components = bool(markers.min(initial=0) >= 0)  # unlabelled pixels hold 0 (a negative marker wraps)
    if USE_C_KERNELS and exact_components and markers.ndim == 2:
        return _flood_c(elevation, markers, allowed, levels, top)
    if exact_components and top < 255:
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
        if not exact_components:
            _grow_level(sub, open8, sub_todo8)
            continue
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
    _native.flood_levels(ev, lab, todo8, flood_thresholds(ev, todo8, levels), lab.shape[0], lab.shape[1])
    return lab


_KERNEL3 = np.ones((3, 3), np.uint8)


def _grow_level(sub: np.ndarray, open8: np.ndarray, todo8: np.ndarray | None = None) -> None:
    """Geodesic growth of the labels of ``sub`` (in place) into the pixels of ``open8`` (uint8 0/1, cleared as they
    are labelled; ``todo8`` likewise), one pixel per step, the larger label on a tie."""
    while True:
        grown = cv2.dilate(sub, _KERNEL3)
        new8 = cv2.bitwise_and(open8, (grown > 0).view(np.uint8))
        if not cv2.countNonZero(new8):
            break
        np.copyto(sub, grown, where=new8.view(bool))
        cv2.bitwise_xor(open8, new8, dst=open8)  # new is a subset of open: xor clears it
        if todo8 is not None:
            cv2.bitwise_xor(todo8, new8, dst=todo8)


def _grow_steps(sub: np.ndarray, open8: np.ndarray, max_steps: int) -> bool:
    """At most ``max_steps`` steps of ``_grow_level`` for a label map whose unlabelled pixels hold 0: every open pixel
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
    """``_grow_level`` with the same result, component by component. The growth has no memory (each step depends
    only on the current labels and open pixels), and the 8-connected components of the open pixels grow
    independently: after a few plain steps, a component whose next-step pixels (those next to a label) all see the
    same largest neighbour label is filled with that label at once (every later step can only copy it); the
    components that see two or more labels grow ``recheck`` steps, then their open rest is split into components
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
    classes = thing_classes(semantic) if classes is None else classes
    if USE_C_KERNELS and semantic.dtype == np.uint8 and semantic.ndim == 2 and markers.shape == semantic.shape:
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
        y0, y1, x0, x1 = _bbox(whole.view(np.uint8), pad=1)
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
    _native.flood_classes(ev, mk, cls, len(classes), max(int(levels), 1), out, out.shape[0], out.shape[1],
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


def refine(labels: np.ndarray, fg: np.ndarray, cfg: MEPConfig) -> np.ndarray:
    """Refinement: per-mask closing and hole filling (unclaimed pixels only), semantic filter, foreground left
    without a marker as new masks, minimum area.

    Args:
        labels: int32 H x W label map from the watershed.
        fg: bool H x W semantic foreground.
        cfg: uses ``close_px``, ``fill_holes``, ``min_area_px``.

    Returns:
        int32 H x W label map, consecutive ids, zero outside ``fg``.
    """
    labels = labels.copy()
    n = int(labels.max())
    if n > 0 and (cfg.close_px > 1 or cfg.fill_holes):
        labels = _close_and_fill(labels, n, cfg)
    labels[~fg] = 0
    rest = (fg & (labels == 0)).astype(np.uint8)
    if rest.any():
        k, extra = cv2.connectedComponents(rest, connectivity=8, ltype=cv2.CV_32S)
        if k > 1:
            labels = np.where(extra > 0, extra + labels.max(), labels).astype(np.int32)
    return drop_small(labels, cfg.min_area_px)


def _close_and_fill(labels: np.ndarray, n: int, cfg: MEPConfig) -> np.ndarray:
    k = max(int(cfg.close_px), 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    pad = k + 1
    h, w = labels.shape
    boxes = label_boxes(labels, n)
    for i in range(1, n + 1):
        y0, y1, x0, x1 = boxes[i]
        if y1 < y0:
            continue
        y0, y1, x0, x1 = max(y0 - pad, 0), min(y1 + pad + 1, h), max(x0 - pad, 0), min(x1 + pad + 1, w)
        crop = labels[y0:y1, x0:x1]
        m = (crop == i).astype(np.uint8)
        if k > 1:
            m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, kernel)
        if cfg.fill_holes:
            outside = cv2.copyMakeBorder(m, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
            cv2.floodFill(outside, None, (0, 0), 1)
            m = m | (outside[1:-1, 1:-1] == 0)
        crop[(m > 0) & (crop == 0)] = i
    return labels


def label_boxes(labels: np.ndarray, n: int) -> np.ndarray:
    """(n + 1) x 4 int array of inclusive ``y0, y1, x0, x1`` per label (empty labels get y1 < y0)."""
    boxes = np.zeros((n + 1, 4), np.int64)
    boxes[:, 0] = boxes[:, 2] = np.iinfo(np.int64).max
    boxes[:, 1] = boxes[:, 3] = -1
    lab = np.asarray(labels)
    if n <= 0:
        return boxes
    if USE_C_KERNELS and lab.ndim == 2 and lab.dtype == np.int32:  # one pass in C; labels outside 1..n are skipped
        _native.label_boxes(np.ascontiguousarray(lab), int(n), boxes, lab.shape[0], lab.shape[1])
        return boxes
    from scipy import ndimage

    # find_objects: one pass in C over the label map
    lab = np.where(lab > n, 0, np.maximum(lab, 0)) if lab.max(initial=0) > n or lab.min(initial=0) < 0 else lab
    for i, sl in enumerate(ndimage.find_objects(lab.astype(np.int32, copy=False), max_label=n), start=1):
        if sl is not None:
            boxes[i] = (sl[0].start, sl[0].stop - 1, sl[1].start, sl[1].stop - 1)
    return boxes


#: Without refinement the flood may leak this far (px) past the semantic foreground (docs/MEP.md, step 4).
UNREFINED_BAND_PX = 3


def unrefined_region(fg: np.ndarray) -> np.ndarray:
    """bool H x W: where the watershed may flood when refinement is off: the semantic foreground grown by
    ``UNREFINED_BAND_PX`` (the uncertain band of the usual watershed recipe, whose background marker holds the rest).
    Instance pixels diffuse into that band, as the paper describes for its pipeline without refinement."""
    k = 2 * UNREFINED_BAND_PX + 1
    return cv2.dilate(fg.view(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))).view(bool)


def extract_masks(
    boundary_prob: np.ndarray, semantic: np.ndarray, image: np.ndarray | None = None, cfg: MEPConfig | None = None
) -> np.ndarray:
    """Run the whole MEP.

    Args:
        boundary_prob: float H x W, boundary probability in [0, 1].
        semantic: uint8/int H x W semantic ids (0 background, 1..K classes, 255 void).
        image: uint8 H x W x 3, needed only when ``cfg.watershed_on == "image"``.
        cfg: MEP parameters (defaults when None).

    Returns:
        int32 H x W class-agnostic label map (0 = none, 1..N instances).
    """
    cfg = cfg or MEPConfig()
    b = np.asarray(boundary_prob, dtype=np.float32)
    semantic = np.asarray(semantic)
    check_finite_map(b, "boundary map")
    if semantic.dtype.kind not in "iub":
        raise BaisegError(f"the semantic map must hold integer class ids, got dtype {semantic.dtype}: pass "
                          "argmax(sem_prob), not probabilities")  # fmt: skip
    if b.ndim != 2 or semantic.shape != b.shape:
        raise BaisegError(
            f"boundary map {b.shape} and semantic map {semantic.shape} must be 2-D and of the same size: "
            "resize the semantic map to the image (nearest neighbour)"
        )
    if cfg.watershed_on not in ("boundary", "image"):
        raise BaisegError(f"mep.watershed_on={cfg.watershed_on!r} is not valid: use 'boundary' or 'image'")
    fg = foreground(semantic)
    classes = thing_classes(semantic)
    cfg, _ = adapted(cfg, b, fg)  # thresholds relative to this image's outline strength (adapt.py)
    markers = make_markers(b, fg, cfg, semantic, classes=classes, checked=True)
    labels = markers
    if cfg.watershed:
        allowed = fg if cfg.refine else unrefined_region(fg)
        if cfg.watershed_on == "image":
            if image is None:
                raise BaisegError(
                    "mep.watershed_on=image needs the image: pass image=... or set mep.watershed_on=boundary"
                )
            labels = watershed_image(_as_rgb(image), markers, allowed)
        elif cfg.flood_per_class and cfg.refine:
            labels = flood_per_class(b, markers, semantic, cfg.watershed_levels, classes)
        else:
            labels = flood(b, markers, allowed, cfg.watershed_levels)
    if cfg.merge_thr > 0 or cfg.merge_enclosed or cfg.merge_neck_ratio > 0:  # before min-area drops (merge.py)
        from baiseg.postprocess.merge import merge_weak_borders

        if cfg.refine:
            labels = refine(labels, fg, dataclasses.replace(cfg, min_area_px=0))
        labels = merge_weak_borders(labels, b, semantic, thr=cfg.merge_thr, min_area_px=cfg.min_area_px,
                                    enclosed=cfg.merge_enclosed, neck_ratio=cfg.merge_neck_ratio,
                                    neck_max_strength=cfg.merge_neck_max_strength)
        return drop_small(labels, cfg.min_area_px) if cfg.refine else labels
    if cfg.refine:
        labels = refine(labels, fg, cfg)
    return relabel(labels)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image[:, :, :3])
