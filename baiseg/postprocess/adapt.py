"""Thresholds that follow the evidence in each image (docs/MEP.md "Adaptive thresholds").

The MEP's probability thresholds (``boundary_thr``, ``merge_thr``, ``merge_neck_max_strength``) were first fixed
numbers. How strong a boundary map is on a real border, though, depends on the domain: the class-balanced L_B
saturates the borders of pedestrians and COCO objects near 1, while the borders between touching nuclei reach
0.5-0.8 after the same training. A fixed 0.9 then never cuts a nucleus from its neighbour.

Every image carries a border whose truth the semantic map already states: the **outline** of its foreground (a
foreground pixel next to background). The boundary map's strength there, ``r`` = the ``adapt_quantile`` quantile of
the map over the outline pixels, tells how strong a true border is *in this image*. With ``adapt_ref > 0`` every
probability threshold ``t`` of the MEP becomes ``t x min(1, r / adapt_ref)``: unchanged where the map reaches the
reference strength on the outline, lowered in proportion where it does not. The marker band (``marker_band``) uses
the same scale.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from baiseg.config import MEPConfig

#: The probability thresholds of the MEP that the adaptive scale multiplies.
SCALED_KEYS = ("boundary_thr", "merge_thr", "merge_neck_max_strength", "marker_band")


def outline(fg: np.ndarray) -> np.ndarray:
    """bool H x W: the foreground pixels with a 4-neighbour in the background (the image frame does not count).

    Args:
        fg: bool H x W semantic foreground.
    """
    f = np.ascontiguousarray(fg, dtype=np.uint8)
    inner = cv2.erode(f, np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8), borderType=cv2.BORDER_REPLICATE)
    return (f > 0) & (inner == 0)


def outline_strength(boundary_prob: np.ndarray, fg: np.ndarray, quantile: float) -> float | None:
    """The ``quantile`` of the boundary probability over the foreground's outline, or None when the image has fewer
    than 16 outline pixels (no evidence: the thresholds stay as they are).

    Args:
        boundary_prob: float32 H x W in [0, 1].
        fg: bool H x W.
        quantile: in [0, 1].
    """
    ring = outline(fg)
    if int(ring.sum()) < 16:
        return None
    return float(np.quantile(boundary_prob[ring], quantile))


def adapted(cfg: MEPConfig, boundary_prob: np.ndarray, fg: np.ndarray) -> tuple[MEPConfig, float]:
    """``cfg`` with its probability thresholds scaled to this image's outline strength (module docstring).

    Returns:
        ``(config, scale)``: the config unchanged and 1.0 when ``cfg.adapt_ref <= 0`` or there is no outline.
    """
    if cfg.adapt_ref <= 0:
        return cfg, 1.0
    r = outline_strength(boundary_prob, fg, cfg.adapt_quantile)
    if r is None:
        return cfg, 1.0
    scale = min(1.0, max(r, 0.0) / cfg.adapt_ref)
    if scale >= 1.0:
        return cfg, 1.0
    changes = {k: getattr(cfg, k) * scale for k in SCALED_KEYS if getattr(cfg, k) <= 1.0}
    return dataclasses.replace(cfg, **changes), scale
