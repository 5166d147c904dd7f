"""Label-map helpers shared by the MEP's stages, the merging and the baselines: foreground, renumbering, small-label
removal, per-label boxes and maxima, the thing classes of a semantic map.

Label maps are int32 H x W: 0 = no instance, 1..N = instance ids (consecutive after ``relabel``).
"""

from __future__ import annotations

import cv2
import numpy as np

from baiseg.errors import BaisegError
from baiseg.postprocess import kernels


def check_semantic_ids(semantic: np.ndarray) -> None:
    """The semantic-id gate of the MEP and the baselines: ids outside 0..255 (an int64 300 would wrap to 44 in the
    uint8 maps of the stages, -1 would silently be no instance) are a BaisegError. A uint8 or bool map cannot hold
    them: no pass over it (the MEP's own maps are uint8)."""
    if semantic.dtype in (np.uint8, np.bool_):
        return
    if semantic.size and (semantic.min() < 0 or semantic.max() > 255):
        raise BaisegError(f"the semantic map holds ids in [{semantic.min()}, {semantic.max()}]: give 0 (background), "
                          "1..K (classes) and 255 (void)")  # fmt: skip


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


def label_maximum(values: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """float32 k: the maximum of ``values`` over each label 0..k-1 (0 for an empty label; values >= 0)."""
    peak = np.zeros(k, np.float32)
    inside = labels > 0
    np.maximum.at(peak, labels[inside], values[inside])
    return peak


def mask_bbox(mask: np.ndarray, pad: int = 0) -> tuple[int, int, int, int] | None:
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


def label_boxes(labels: np.ndarray, n: int) -> np.ndarray:
    """(n + 1) x 4 int array of inclusive ``y0, y1, x0, x1`` per label (empty labels get y1 < y0)."""
    boxes = np.zeros((n + 1, 4), np.int64)
    boxes[:, 0] = boxes[:, 2] = np.iinfo(np.int64).max
    boxes[:, 1] = boxes[:, 3] = -1
    lab = np.asarray(labels)
    if n <= 0:
        return boxes
    if kernels.USE_C_KERNELS and lab.ndim == 2 and lab.dtype == np.int32:  # one pass in C, labels outside 1..n skipped
        kernels.native.label_boxes(np.ascontiguousarray(lab), int(n), boxes, lab.shape[0], lab.shape[1])
        return boxes
    from scipy import ndimage

    # find_objects: one pass in C over the label map
    lab = np.where(lab > n, 0, np.maximum(lab, 0)) if lab.max(initial=0) > n or lab.min(initial=0) < 0 else lab
    for i, sl in enumerate(ndimage.find_objects(lab.astype(np.int32, copy=False), max_label=n), start=1):
        if sl is not None:
            boxes[i] = (sl[0].start, sl[0].stop - 1, sl[1].start, sl[1].stop - 1)
    return boxes
