"""Maps between the network's working size and the image's size (docs/MEP.md "Large-image policy").

When an image is larger than ``max_side``, the network sees it shrunk. By default (``mep_at="image"``) its maps are
brought back to the image's size and the MEP runs there: the boundary probability bilinearly, the softmax of the
classes present bilinearly too, and the semantic map is their arg-max at the image's size. Running the MEP on the
shrunk maps instead (``mep_at="work"``) is faster but loses thin boundaries and small regions (docs/SPEED.md
"Fewer pixels"). ``instances_at_size`` is the one place that applies this choice, for ``Predictor`` and for the
process pool of ``baiseg predict``. These are plain CPU functions on NumPy arrays.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from baiseg.instances import Instances
from baiseg.postprocess import kernels

MEP_AT = ("image", "work")


def argmax_channels(prob: np.ndarray) -> np.ndarray:
    """uint8 H x W: at each pixel the first channel of the largest value of a finite float C x H x W map (C <= 256),
    as NumPy's ``argmax(0)``; by the C kernel when built (``kernels.USE_C_KERNELS``), which walks the channels row by
    row instead of with a stride of one image per step."""
    p = np.asarray(prob)
    if (kernels.USE_C_KERNELS and p.ndim == 3 and p.dtype == np.float32 and p.flags.c_contiguous
            and 1 <= p.shape[0] <= 256):  # fmt: skip
        out = np.empty(p.shape[1:], np.uint8)
        kernels.native.argmax_channels(p, out, p.shape[0], out.size)
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


def resize_masks(masks: np.ndarray, h: int, w: int) -> np.ndarray:
    """N non-overlapping bool masks resized to h x w (nearest neighbour, through their label map)."""
    n = masks.shape[0]
    if n == 0:
        return np.zeros((0, h, w), bool)
    lab = np.zeros(masks.shape[1:], np.uint16 if n < 65535 else np.int32)
    for i in range(n):
        lab[masks[i]] = i + 1
    big = cv2.resize(lab.astype(np.float32), (w, h), interpolation=cv2.INTER_NEAREST_EXACT).astype(np.int64)
    return big[None] == np.arange(1, n + 1)[:, None, None]


def instances_at_size(
    method: str,
    semantic: np.ndarray,
    boundary: np.ndarray,
    size: tuple[int, int],
    *,
    prob: np.ndarray | None = None,
    classes: np.ndarray | None = None,
    mep_at: str = "image",
    image: np.ndarray | None = None,
    cfg: Any = None,
) -> tuple[Instances, np.ndarray, np.ndarray]:
    """The MEP (``method``) on network maps at the working size, with instances at the image's ``size`` (H, W).

    Args:
        semantic: uint8 ids. With ``prob``: the network's arg-max at the working size (compact ids when ``classes``
            is given). Without: an external map at the image's size (shrunk here for ``mep_at="work"``).
        boundary: float32 h x w boundary probability at the working size.
        prob: float32 C x h x w probabilities of the ids in ``semantic``, or None (external semantics).
        classes: int64 C, the semantic id of each compact id, or None (ids are semantic ids already).
        mep_at: where the MEP runs when h x w differs from ``size`` (``MEP_AT``).
        image: uint8 x 3 image at the size the MEP runs (``mep.watershed_on=image`` only).

    Returns:
        ``(instances at H x W with semantic class ids, the semantic map and the boundary map the MEP used)``.
    """
    from baiseg.postprocess.methods import instances_from_semantic

    shrunk = boundary.shape != tuple(size)
    if shrunk and mep_at == "image":
        boundary, prob, up = upsample_maps(boundary, prob, size)
        semantic = semantic if up is None else up
    elif shrunk and prob is None:  # mep_at=work: the external map down to the working size
        semantic = cv2.resize(semantic, boundary.shape[::-1], interpolation=cv2.INTER_NEAREST_EXACT)
    inst = instances_from_semantic(method, semantic, boundary_prob=boundary, sem_prob=prob, image=image, cfg=cfg)
    if classes is not None:
        inst = Instances(inst.masks, classes[inst.classes], inst.scores)
    if shrunk and mep_at == "work":
        inst = Instances(resize_masks(inst.masks, *size), inst.classes, inst.scores)
    return inst, semantic, boundary
