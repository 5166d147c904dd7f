"""Maps between the network's working size and the image's size (docs/MEP.md "Large-image policy").

When an image is larger than ``max_side``, the network sees it shrunk. By default (``mep_at="image"``) its maps are
brought back to the image's size and the MEP runs there: the boundary probability bilinearly, the softmax of the
classes present bilinearly too, and the semantic map is their arg-max at the image's size. Running the MEP on the
shrunk maps instead (``mep_at="work"``) is faster but loses thin boundaries and small regions (docs/SPEED.md
"Fewer pixels"). These are plain CPU functions on NumPy arrays.
"""

from __future__ import annotations

import cv2
import numpy as np

MEP_AT = ("image", "work")


def argmax_channels(prob: np.ndarray) -> np.ndarray:
    """uint8 H x W: at each pixel the first channel of the largest value of a finite float C x H x W map (C <= 256),
    as NumPy's ``argmax(0)``; by the C kernel when built (``mep.USE_C_KERNELS``), which walks the channels row by
    row instead of with a stride of one image per step."""
    from baiseg.postprocess import mep

    p = np.asarray(prob)
    if (mep.USE_C_KERNELS and p.ndim == 3 and p.dtype == np.float32 and p.flags.c_contiguous
            and 1 <= p.shape[0] <= 256):  # fmt: skip
        out = np.empty(p.shape[1:], np.uint8)
        mep._native.argmax_channels(p, out, p.shape[0], out.size)
        return out
    return p.argmax(0).astype(np.uint8)


def compact_semantics(sem: np.ndarray, sem_prob: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The arg-max map and softmax restricted to the classes present (plus background), ids renumbered in order.

    The MEP and the scores only look at the classes of the semantic map and compare ids for equality and order, so
    the instances are the same as with the full (K + 1)-channel softmax, at a fraction of the bytes.

    Returns:
        ``(uint8 h x w compact ids, float32 C x h x w probabilities, int64 C semantic id of each compact id)``.
    """
    counts = np.bincount(sem.ravel(), minlength=256)
    counts[0] = 1  # background always
    present = np.flatnonzero(counts).astype(np.int64)
    lut = np.zeros(256, np.uint8)
    lut[present] = np.arange(present.size, dtype=np.uint8)
    return lut[sem], np.ascontiguousarray(sem_prob[present], dtype=np.float32), present


def upsample_maps(
    boundary: np.ndarray, prob: np.ndarray | None, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Working-size maps at the image's ``size`` (H, W), for the MEP to run there.

    Args:
        boundary: float32 h x w boundary probability in [0, 1].
        prob: float32 C x h x w probabilities of the classes kept (e.g. ``compact_semantics``'s), or None.
        size: the image's (H, W).

    Returns:
        ``(float32 H x W boundary, float32 C x H x W probabilities or None, uint8 H x W arg-max of them or None)``:
        bilinear (half-pixel centres, as the network's own upsampling); the arg-max is taken after resizing, among
        the C channels given.
    """
    h, w = size
    b = cv2.resize(np.ascontiguousarray(boundary, np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    if prob is None:
        return b, None, None
    c = prob.shape[0]
    up = np.empty((c, h, w), np.float32)
    for i in range(c):  # one channel at a time: cv2 takes at most 4 interleaved channels for some paths
        up[i] = cv2.resize(np.ascontiguousarray(prob[i], np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    return b, up, argmax_channels(up)
