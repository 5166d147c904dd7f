"""Stage 1 of the Mask Extraction Pipeline: non-maximum suppression of a boundary map along its normal.

The structured-edge NMS used to evaluate HED (Dollár & Zitnick), vectorised: the ridge orientation comes from the
Hessian of the Gaussian-smoothed map; each candidate pixel (value above ``min_value``) is compared with its two
bilinearly interpolated neighbours at +-1 px along the normal and kept when ``value * margin >= both neighbours``
(the reference implementation's rule: a neighbour must exceed the pixel by more than the margin to suppress it, so
flat ridge tops two pixels wide survive instead of both being suppressed).
"""

from __future__ import annotations

import cv2
import numpy as np

from baiseg.errors import BaisegError


def ridge_normal(boundary_prob: np.ndarray, sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Unit normal of the ridges of a boundary map, from the Hessian of the smoothed map.

    Args:
        boundary_prob: float32 H x W, values in [0, 1].
        sigma: Gaussian smoothing (px) before differentiation; 0 disables smoothing.

    Returns:
        ``(cos, sin)``: two float32 H x W arrays, the x and y components of the direction of strongest negative
        curvature (across the ridge).
    """
    return _normal_from_hessian(*_hessian(boundary_prob, sigma))


def _hessian(boundary_prob: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(hxx, hxy, hyy)``: float32 H x W second derivatives of the map smoothed with ``sigma`` (``ridge_normal``)."""
    e = np.ascontiguousarray(boundary_prob, dtype=np.float32)
    if sigma > 0:
        e = cv2.GaussianBlur(e, (0, 0), sigmaX=float(sigma), sigmaY=float(sigma), borderType=cv2.BORDER_REPLICATE)
    gx = cv2.Sobel(e, cv2.CV_32F, 1, 0, ksize=3, scale=0.125, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.Sobel(e, cv2.CV_32F, 0, 1, ksize=3, scale=0.125, borderType=cv2.BORDER_REPLICATE)
    hxx = cv2.Sobel(gx, cv2.CV_32F, 1, 0, ksize=3, scale=0.125, borderType=cv2.BORDER_REPLICATE)
    hxy = cv2.Sobel(gx, cv2.CV_32F, 0, 1, ksize=3, scale=0.125, borderType=cv2.BORDER_REPLICATE)
    hyy = cv2.Sobel(gy, cv2.CV_32F, 0, 1, ksize=3, scale=0.125, borderType=cv2.BORDER_REPLICATE)
    return hxx, hxy, hyy


def _normal_from_hessian(hxx: np.ndarray, hxy: np.ndarray, hyy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(cos, sin)`` float32 of the ridge normal from Hessian entries (arrays of any shape, computed elementwise)."""
    # Angle of the eigenvector of the larger eigenvalue; the ridge normal (most negative curvature) is 90 deg off.
    theta = 0.5 * np.arctan2(2.0 * hxy, hxx - hyy) + np.float32(np.pi / 2)
    return np.cos(theta).astype(np.float32), np.sin(theta).astype(np.float32)


def check_finite_map(a: np.ndarray, what: str) -> None:
    """Raise a one-line BaisegError when a float map is not 2-D or holds NaN / inf values.

    Args:
        a: float H x W (or C x H x W with ``what`` naming it) map from the network.
        what: its name in the message ("boundary map", "semantic probabilities").
    """
    if a.ndim not in (2, 3):
        raise BaisegError(f"{what} must be H x W (or C x H x W), got shape {a.shape}")
    if a.dtype.kind == "f":
        if a.dtype in (np.float32, np.float64) and a.size and cv2.checkRange(a.reshape(-1, a.shape[-1]))[0]:
            return  # one SIMD pass, no temporary array (the common case)
        bad = ~np.isfinite(a)
        if bad.any():
            raise BaisegError(
                f"{what} holds {int(bad.sum())} non-finite values (NaN or inf) of {a.size}: the network output is "
                "broken (diverged or corrupt weights?); no instances can be extracted from it"
            )


def boundary_nms(
    boundary_prob: np.ndarray, *, margin: float = 1.01, sigma: float = 1.0, min_value: float = 0.0, check: bool = True
) -> np.ndarray:
    """Thin a boundary map to 1-2 px ridges.

    Args:
        boundary_prob: float H x W, values in [0, 1] (any float dtype; converted to float32).
        margin: a pixel is suppressed when a neighbour along the normal exceeds ``value * margin`` (>= 1).
        sigma: smoothing (px) used for the orientation only; the comparison uses the unsmoothed map.
        min_value: pixels with ``value <= min_value`` are set to 0 without comparison (a following threshold
            makes them irrelevant; skipping them is the main speed-up).
        check: check that the map is finite (False: the caller has done it).

    Returns:
        float32 H x W: the input value on kept ridge pixels, 0 elsewhere.

    Raises:
        BaisegError: the map is not 2-D or holds NaN / inf (a broken network output).
    """
    e = np.ascontiguousarray(boundary_prob, dtype=np.float32)
    if check:
        check_finite_map(e, "boundary map")
    h, w = e.shape
    pts = cv2.findNonZero((e > min_value).view(np.uint8))  # row-major, like np.nonzero, in one pass
    out = np.zeros_like(e)
    if pts is None:
        return out
    pts = pts.reshape(-1, 2)
    xs, ys = pts[:, 0], pts[:, 1]
    hxx, hxy, hyy = _hessian(e, sigma)
    c, s = _normal_from_hessian(hxx[ys, xs], hxy[ys, xs], hyy[ys, xs])  # the normal at the candidates only
    v = e[ys, xs] * np.float32(margin)
    keep = (v >= _bilinear(e, xs + c, ys + s)) & (v >= _bilinear(e, xs - c, ys - s))
    out[ys[keep], xs[keep]] = e[ys[keep], xs[keep]]
    return out


def _bilinear(e: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``e`` at float coordinates (clamped to the image, like BORDER_REPLICATE)."""
    h, w = e.shape
    x = np.clip(x, 0, w - 1)
    y = np.clip(y, 0, h - 1)
    x0 = np.minimum(x.astype(np.int64), w - 2) if w > 1 else np.zeros(x.shape, np.int64)
    y0 = np.minimum(y.astype(np.int64), h - 2) if h > 1 else np.zeros(y.shape, np.int64)
    fx, fy = (x - x0).astype(np.float32), (y - y0).astype(np.float32)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    top = e[y0, x0] * (1 - fx) + e[y0, x1] * fx
    bot = e[y1, x0] * (1 - fx) + e[y1, x1] * fx
    return top * (1 - fy) + bot * fy
