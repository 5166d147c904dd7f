"""Stage 1 of the Mask Extraction Pipeline: non-maximum suppression of a boundary map along its normal.

The structured-edge NMS used to evaluate HED (Dollár & Zitnick), vectorised: the ridge orientation comes from the
Hessian of the Gaussian-smoothed map, each pixel is compared with its two bilinearly interpolated neighbours at +-1 px
along the normal (``cv2.remap``), and it is kept when ``value * margin >= both neighbours`` (the reference
implementation's rule: a neighbour must exceed the pixel by more than the margin to suppress it, so flat ridge tops
two pixels wide survive instead of both being suppressed).
"""

from __future__ import annotations

import cv2
import numpy as np


def ridge_normal(boundary_prob: np.ndarray, sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Unit normal of the ridges of a boundary map, from the Hessian of the smoothed map.

    Args:
        boundary_prob: float32 H x W, values in [0, 1].
        sigma: Gaussian smoothing (px) before differentiation; 0 disables smoothing.

    Returns:
        ``(cos, sin)``: two float32 H x W arrays, the x and y components of the direction of strongest negative
        curvature (across the ridge).
    """
    e = np.ascontiguousarray(boundary_prob, dtype=np.float32)
    if sigma > 0:
        e = cv2.GaussianBlur(e, (0, 0), sigmaX=float(sigma), sigmaY=float(sigma), borderType=cv2.BORDER_REPLICATE)
    gx = cv2.Sobel(e, cv2.CV_32F, 1, 0, ksize=3, scale=0.125, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.Sobel(e, cv2.CV_32F, 0, 1, ksize=3, scale=0.125, borderType=cv2.BORDER_REPLICATE)
    hxx = cv2.Sobel(gx, cv2.CV_32F, 1, 0, ksize=3, scale=0.125, borderType=cv2.BORDER_REPLICATE)
    hxy = cv2.Sobel(gx, cv2.CV_32F, 0, 1, ksize=3, scale=0.125, borderType=cv2.BORDER_REPLICATE)
    hyy = cv2.Sobel(gy, cv2.CV_32F, 0, 1, ksize=3, scale=0.125, borderType=cv2.BORDER_REPLICATE)
    # Angle of the eigenvector of the larger eigenvalue; the ridge normal (most negative curvature) is 90 deg off.
    theta = 0.5 * np.arctan2(2.0 * hxy, hxx - hyy) + np.float32(np.pi / 2)
    return np.cos(theta).astype(np.float32), np.sin(theta).astype(np.float32)


def boundary_nms(boundary_prob: np.ndarray, *, margin: float = 1.01, sigma: float = 1.0) -> np.ndarray:
    """Thin a boundary map to 1-2 px ridges.

    Args:
        boundary_prob: float H x W, values in [0, 1] (any float dtype; converted to float32).
        margin: a pixel is suppressed when a neighbour along the normal exceeds ``value * margin`` (>= 1).
        sigma: smoothing (px) used for the orientation only; the comparison uses the unsmoothed map.

    Returns:
        float32 H x W: the input value on kept ridge pixels, 0 elsewhere.
    """
    e = np.ascontiguousarray(boundary_prob, dtype=np.float32)
    h, w = e.shape
    cos, sin = ridge_normal(e, sigma)
    xs = np.arange(w, dtype=np.float32)[None, :]
    ys = np.arange(h, dtype=np.float32)[:, None]
    mx1, my1 = xs + cos, ys + sin
    mx2, my2 = xs - cos, ys - sin
    n1 = cv2.remap(e, mx1, my1, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    n2 = cv2.remap(e, mx2, my2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    em = e * np.float32(margin)
    keep = (em >= n1) & (em >= n2)
    return np.where(keep, e, np.float32(0))
