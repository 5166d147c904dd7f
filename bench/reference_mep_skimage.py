"""A fair scikit-image / SciPy reference of ``baiseg.postprocess.mep.extract_masks`` for bench_mep.py.

The same stages, parameters and crops as ours, each written with the standard library call a user would reach for:

1. NMS: ``skimage.feature.hessian_matrix`` orientation on the smoothed map, ``scipy.ndimage.map_coordinates`` at the
   candidate pixels only (value above ``boundary_thr``, as ours), margin rule as ours.
2. Markers: ridges > ``boundary_thr``, ``skimage.morphology.dilation`` with ``disk(boundary_dilate_px)``; then
   ``marker_source: distance`` (the default): per class region, in its box, ``distance_transform_edt``, the components'
   peaks (``ndimage.maximum``) and the cores above ``dtws_peak_frac`` x peak, minus the ridges, ``measure.label``
   (8-connected); or ``marker_source: boundary``: foreground minus ridges, the ``sure_fg`` step (distance to a ridge
   > ``sure_fg_px``), ``measure.label`` (4-connected).
3. Watershed: ``skimage.segmentation.watershed`` of the boundary map (exact priority flooding; ours floods in
   ``watershed_levels`` levels) per class region in its box, ``mask=`` the region.
4. Refinement: per mask, in its box plus a margin (as ours), ``morphology.closing`` with ``disk(close_px // 2)`` and
   ``binary_fill_holes`` on unclaimed pixels, the semantic filter, left-over foreground components
   (``measure.label``) as masks.
5. Merging of weak / non-neck cuts: the library's ``merge_weak_borders`` (the same code and cost in both; it has no
   scikit-image counterpart), then ``remove_small_objects`` for ``min_area_px`` and ``relabel_sequential``.

Differences in the output come from the exact watershed and the exact distance transforms (bench_mep.py reports the
matched IoU).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage import feature, measure, morphology, segmentation

from baiseg.config import MEPConfig


def _box(mask: np.ndarray, pad: int) -> tuple[slice, slice] | None:
    sl = ndi.find_objects(mask.astype(np.int32))
    if not sl or sl[0] is None:
        return None
    ys, xs = sl[0]
    h, w = mask.shape
    return slice(max(ys.start - pad, 0), min(ys.stop + pad, h)), slice(max(xs.start - pad, 0), min(xs.stop + pad, w))


def nms_reference(b: np.ndarray, margin: float, sigma: float, min_value: float) -> np.ndarray:
    """Ridges of ``b``: candidates above ``min_value`` kept when ``value * margin`` >= both neighbours along the
    normal (Hessian of the smoothed map)."""
    hrr, hrc, hcc = feature.hessian_matrix(b, sigma=sigma, order="rc", use_gaussian_derivatives=False)
    ys, xs = np.nonzero(b > min_value)
    out = np.zeros_like(b)
    if ys.size == 0:
        return out
    theta = 0.5 * np.arctan2(2 * hrc[ys, xs], hcc[ys, xs] - hrr[ys, xs]) + np.pi / 2
    dy, dx = np.sin(theta), np.cos(theta)
    n1 = ndi.map_coordinates(b, [ys + dy, xs + dx], order=1, mode="nearest")
    n2 = ndi.map_coordinates(b, [ys - dy, xs - dx], order=1, mode="nearest")
    v = b[ys, xs] * margin
    keep = (v >= n1) & (v >= n2)
    out[ys[keep], xs[keep]] = b[ys[keep], xs[keep]]
    return out


def _distance_markers(semantic: np.ndarray, edges: np.ndarray, peak_frac: float) -> np.ndarray:
    seeds = np.zeros(semantic.shape, bool)
    for c in np.unique(semantic):
        if c == 0 or c == 255:
            continue
        box = _box(semantic == c, 1)
        region = semantic[box] == c
        comp, k = ndi.label(region, structure=np.ones((3, 3)))
        dist = ndi.distance_transform_edt(region)
        peak = np.zeros(k + 1)
        if k:
            peak[1:] = ndi.maximum(dist, comp, index=np.arange(1, k + 1))
        seeds[box] |= (dist > peak_frac * peak[comp]) & (comp > 0)
    return measure.label(seeds & ~edges, connectivity=2)


def extract_masks_reference(
    boundary_prob: np.ndarray, semantic: np.ndarray, cfg: MEPConfig | None = None
) -> np.ndarray:
    """int32 H x W label map, as ``extract_masks`` (``watershed_on: boundary``)."""
    from baiseg.postprocess.merge import merge_weak_borders

    cfg = cfg or MEPConfig()
    b = boundary_prob.astype(np.float32)
    fg = (semantic > 0) & (semantic != 255)
    ridges = nms_reference(b, cfg.nms_margin, cfg.nms_smooth_sigma, cfg.boundary_thr) if cfg.nms else b
    edges = ridges > cfg.boundary_thr
    if cfg.boundary_dilate_px > 0:
        edges = morphology.dilation(edges, morphology.disk(cfg.boundary_dilate_px))
    if cfg.marker_source == "distance":
        markers = _distance_markers(semantic, edges, cfg.dtws_peak_frac)
    else:
        interior = fg & ~edges
        if cfg.sure_fg:
            interior = ndi.distance_transform_edt(interior) > cfg.sure_fg_px
        markers = measure.label(interior, connectivity=1)
    if cfg.min_marker_px > 1:
        markers = morphology.remove_small_objects(markers, max_size=cfg.min_marker_px - 1)
    labels = markers
    if cfg.watershed:
        if cfg.flood_per_class and cfg.refine:
            labels = np.zeros(markers.shape, np.int32)
            for c in np.unique(semantic):
                if c == 0 or c == 255:
                    continue
                box = _box(semantic == c, 1)
                region = semantic[box] == c
                m = np.where(region, markers[box], 0)
                if m.max() == 0:
                    continue
                m = segmentation.relabel_sequential(m)[0]
                grown = segmentation.watershed(b[box], m, mask=region)
                sub = labels[box]
                top = labels.max()
                sub[grown > 0] = grown[grown > 0] + top
        else:
            labels = segmentation.watershed(b, markers, mask=fg if cfg.refine else None)
    if not cfg.refine:
        return labels.astype(np.int32)
    out = labels.copy()
    k = max(int(cfg.close_px), 1)
    fp = morphology.disk(k // 2) if k > 1 else None
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is None:
            continue
        pad = k + 1
        h, w = labels.shape
        box = (slice(max(sl[0].start - pad, 0), min(sl[0].stop + pad, h)),
               slice(max(sl[1].start - pad, 0), min(sl[1].stop + pad, w)))  # fmt: skip
        m = labels[box] == i
        if fp is not None:
            m = morphology.closing(m, fp)
        if cfg.fill_holes:
            m = ndi.binary_fill_holes(m)
        crop = out[box]
        crop[m & (crop == 0)] = i
    out[~fg] = 0
    rest = measure.label(fg & (out == 0), connectivity=2)
    out = np.where(rest > 0, rest + out.max(), out).astype(np.int32)
    if cfg.merge_thr > 0 or cfg.merge_enclosed or cfg.merge_neck_ratio > 0:
        out = segmentation.relabel_sequential(out)[0].astype(np.int32)
        out = merge_weak_borders(out, b, semantic, thr=cfg.merge_thr, min_area_px=cfg.min_area_px,
                                 enclosed=cfg.merge_enclosed, neck_ratio=cfg.merge_neck_ratio,
                                 neck_max_strength=cfg.merge_neck_max_strength)  # fmt: skip
    if cfg.min_area_px > 1:
        out = morphology.remove_small_objects(out, max_size=cfg.min_area_px - 1)
    return segmentation.relabel_sequential(out)[0].astype(np.int32)

