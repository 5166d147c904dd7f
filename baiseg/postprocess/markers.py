"""MEP stage 2, the markers (docs/MEP.md): threshold the boundary ridges, then either the distance cores of the
semantic mask cut by the ridges (``marker_source: distance``, optionally of the mask minus the boundary band) or the
non-boundary foreground (``marker_source: boundary``); connected components, small ones dropped. Also the exact
distance transform and distance seeds that the ``dtws`` baseline shares.
"""

from __future__ import annotations

import cv2
import numpy as np

from baiseg.config import MEPConfig
from baiseg.errors import BaisegError
from baiseg.postprocess import kernels
from baiseg.postprocess.labels import drop_small, label_maximum, mask_bbox, thing_classes
from baiseg.postprocess.nms import boundary_nms


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
    box = mask_bbox(region, pad=1)  # the distance to the outside is the same in the region's box with a 1-px frame
    if box is None:
        return dist, seeds
    y0, y1, x0, x1 = box
    dist[y0:y1, x0:x1], seeds[y0:y1, x0:x1] = _distance_seeds_in_box(region[y0:y1, x0:x1], peak_frac)
    return dist, seeds


def exact_distance(region: np.ndarray) -> np.ndarray:
    """float32 H x W exact Euclidean distance of every pixel to the nearest zero pixel of a uint8 region (pixels
    outside the array do not count). The C kernel (``kernels.native.edt``) takes sqrtf of the exact integer squared
    distance; OpenCV's ``DIST_MASK_PRECISE`` (the fallback) agrees within one float32 ulp (and is not always the same
    from one call to the next)."""
    sub = np.ascontiguousarray(region, dtype=np.uint8)
    if kernels.USE_C_KERNELS and sub.ndim == 2:
        d = np.empty(sub.shape, np.float32)
        kernels.native.edt(sub, d, sub.shape[0], sub.shape[1])
        return d
    return cv2.distanceTransform(sub, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def _distance_seeds_in_box(sub: np.ndarray, peak_frac: float) -> tuple[np.ndarray, np.ndarray]:
    """``region_distance_seeds`` of a uint8 region cropped to its box with a 1-px frame (clipped at the image border:
    the distance to the outside is the same as in the whole image)."""
    k, comp = cv2.connectedComponents(sub, connectivity=8, ltype=cv2.CV_32S)
    d = exact_distance(sub)
    # the same float32 arithmetic in C (a Python float times a float32 array stays float32 in NumPy)
    if kernels.USE_C_KERNELS and type(peak_frac) in (float, int) and d.flags.c_contiguous and comp.flags.c_contiguous:
        seeds = np.empty(d.shape, bool)
        kernels.native.peak_seeds(d, comp, int(k), float(peak_frac), seeds.view(np.uint8), d.size)
        return d, seeds
    if k == 2:  # one component: its maximum is the maximum (the distance is 0 outside, > 0 inside)
        peak = np.array([0.0, d.max()], np.float32)
    else:
        peak = label_maximum(d, comp, k)
    return d, (d > peak_frac * peak[comp]) & (comp > 0)


def distance_seeds(semantic: np.ndarray, peak_frac: float, classes: list | None = None) -> np.ndarray:
    """bool H x W: ``region_distance_seeds`` of every class region (ids 1..254, or ``classes`` when given: the
    ``thing_classes`` of the map) of a semantic map."""
    seeds = np.zeros(semantic.shape, bool)
    for c in thing_classes(semantic) if classes is None else classes:
        region = (semantic == c).view(np.uint8)
        box = mask_bbox(region, pad=1)
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
