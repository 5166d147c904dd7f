"""MEP stage 4, the refinement (docs/MEP.md): per-mask closing and hole filling, semantic filter, foreground left
without a marker as new masks, minimum area; and the region the flood may reach when refinement is off.
"""

from __future__ import annotations

import cv2
import numpy as np

from baiseg.config import MEPConfig
from baiseg.postprocess.labels import drop_small, label_boxes


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


#: Without refinement the flood may leak this far (px) past the semantic foreground (docs/MEP.md, step 4).
UNREFINED_BAND_PX = 3


def unrefined_region(fg: np.ndarray) -> np.ndarray:
    """bool H x W: where the watershed may flood when refinement is off: the semantic foreground grown by
    ``UNREFINED_BAND_PX`` (the uncertain band of the usual watershed recipe, whose background marker holds the rest).
    Instance pixels diffuse into that band, as the paper describes for its pipeline without refinement."""
    k = 2 * UNREFINED_BAND_PX + 1
    return cv2.dilate(fg.view(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))).view(bool)
