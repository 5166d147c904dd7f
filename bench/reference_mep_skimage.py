"""The straightforward scikit-image / SciPy implementation of the same MEP stages, the reference of bench_mep.py.

Same stages and parameters as ``baiseg.postprocess.mep.extract_masks`` (boundary-map watershed), written the obvious
way: Hessian orientation with ``skimage.feature.hessian_matrix``, NMS with ``scipy.ndimage.map_coordinates``,
``skimage.morphology`` dilation, ``skimage.measure.label``, ``skimage.segmentation.watershed`` (exact priority
flooding) with ``mask=`` the semantic foreground, per-region closing and ``binary_fill_holes``,
``remove_small_objects``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage import feature, measure, morphology, segmentation

from baiseg.config import MEPConfig


def nms_reference(b: np.ndarray, margin: float, sigma: float) -> np.ndarray:
    hrr, hrc, hcc = feature.hessian_matrix(b, sigma=sigma, order="rc", use_gaussian_derivatives=False)
    # hrr = d2/dy2, hcc = d2/dx2, hrc = d2/dxdy; normal = eigenvector of the most negative eigenvalue.
    theta = 0.5 * np.arctan2(2 * hrc, hcc - hrr) + np.pi / 2
    dy, dx = np.sin(theta), np.cos(theta)
    yy, xx = np.mgrid[: b.shape[0], : b.shape[1]].astype(np.float64)
    n1 = ndi.map_coordinates(b, [yy + dy, xx + dx], order=1, mode="nearest")
    n2 = ndi.map_coordinates(b, [yy - dy, xx - dx], order=1, mode="nearest")
    keep = (b * margin >= n1) & (b * margin >= n2)
    return np.where(keep, b, 0)


def extract_masks_reference(
    boundary_prob: np.ndarray, semantic: np.ndarray, cfg: MEPConfig | None = None
) -> np.ndarray:
    """int32 H x W label map, as ``extract_masks`` (watershed_on='boundary', sure_fg off)."""
    cfg = cfg or MEPConfig()
    b = boundary_prob.astype(np.float64)
    fg = (semantic > 0) & (semantic != 255)
    ridges = nms_reference(b, cfg.nms_margin, cfg.nms_smooth_sigma) if cfg.nms else b
    edges = ridges > cfg.boundary_thr
    if cfg.boundary_dilate_px > 0:
        edges = morphology.dilation(edges, morphology.disk(cfg.boundary_dilate_px))
    markers = measure.label(fg & ~edges, connectivity=1)
    markers = morphology.remove_small_objects(markers, max_size=cfg.min_marker_px - 1)
    labels = segmentation.watershed(b, markers, mask=fg) if cfg.watershed else markers
    if not cfg.refine:
        return labels.astype(np.int32)
    out = labels.copy()
    fp = morphology.disk(cfg.close_px // 2) if cfg.close_px > 1 else None
    for region in measure.regionprops(labels):
        m = labels == region.label
        if fp is not None:
            m = morphology.closing(m, fp)
        if cfg.fill_holes:
            m = ndi.binary_fill_holes(m)
        out[m & (out == 0)] = region.label
    out[~fg] = 0
    rest = measure.label(fg & (out == 0), connectivity=2)
    out = np.where(rest > 0, rest + out.max(), out)
    out = morphology.remove_small_objects(out, max_size=cfg.min_area_px - 1)
    return segmentation.relabel_sequential(out)[0].astype(np.int32)
