"""One entry point for every way of turning a semantic map into instances: BAISeg's MEP and the two baselines.

- ``baiseg``: the Mask Extraction Pipeline on the boundary map (mep.py), then assembly.
- ``cc``: connected components (8-connected) of each class's semantic region.
- ``dtws``: distance-transform watershed of each class's semantic region: seeds where the distance to the region's
  border exceeds ``dtws_peak_frac`` of its connected component's maximum, flooded over the negated distance by an
  exact watershed (the classic OpenCV / scikit-image recipe).

The baselines are fair (docs/MEP.md): their parameters (``cc_min_area_px``, ``dtws_peak_frac``, ``dtws_min_area_px``)
are tuned on the train splits exactly as the MEP's are, and assembly.py scores their instances by area (the size term
is strictly increasing), the best ranking available without a boundary map.
"""

from __future__ import annotations

import cv2
import numpy as np

from baiseg.config import MEPConfig
from baiseg.errors import BaisegError
from baiseg.postprocess.assembly import assemble_instances
from baiseg.postprocess.mep import drop_small, extract_masks, region_distance_seeds

METHODS = ("baiseg", "cc", "dtws")


def cc_labels(semantic: np.ndarray, min_area_px: int = 0) -> np.ndarray:
    """Connected components of each class region.

    Args:
        semantic: uint8/int H x W semantic ids (0 background, 1..K, 255 void).
        min_area_px: components smaller than this are dropped.

    Returns:
        int32 H x W label map (0 = none).
    """
    labels = np.zeros(semantic.shape, np.int32)
    nxt = 0
    for c in _classes(semantic):
        k, comp = cv2.connectedComponents((semantic == c).astype(np.uint8), connectivity=8, ltype=cv2.CV_32S)
        if k > 1:
            labels = np.where(comp > 0, comp + nxt, labels)
            nxt += k - 1
    return drop_small(labels, min_area_px)


def dtws_labels(semantic: np.ndarray, peak_frac: float = 0.5, min_area_px: int = 0) -> np.ndarray:
    """Distance-transform watershed of each class region (exact priority-flood watershed, scikit-image).

    Args:
        semantic: uint8/int H x W semantic ids.
        peak_frac: seeds are pixels with distance > ``peak_frac`` x the maximum distance of their component, in [0, 1).
        min_area_px: instances smaller than this are dropped.

    Returns:
        int32 H x W label map (0 = none).
    """
    from skimage.segmentation import watershed

    labels = np.zeros(semantic.shape, np.int32)
    nxt = 0
    for c in _classes(semantic):
        region = (semantic == c).astype(np.uint8)
        dist, seeds = region_distance_seeds(region, peak_frac)  # exact Euclidean distance and its seeds
        _, markers = cv2.connectedComponents(seeds.astype(np.uint8), connectivity=8, ltype=cv2.CV_32S)
        ys, xs = np.nonzero(region)  # the region's bounding box: the watershed's cost follows its size
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        grown = watershed(-dist[y0:y1, x0:x1], markers[y0:y1, x0:x1], mask=region[y0:y1, x0:x1] > 0)
        box = labels[y0:y1, x0:x1]
        box[grown > 0] = grown[grown > 0] + nxt
        nxt = int(labels.max())
    return drop_small(labels, min_area_px)


def _classes(semantic: np.ndarray) -> list[int]:
    ids = np.unique(semantic)
    return [int(c) for c in ids if 0 < c < 255]


def instances_from_semantic(
    method: str,
    semantic: np.ndarray,
    *,
    boundary_prob: np.ndarray | None = None,
    sem_prob: np.ndarray | None = None,
    image: np.ndarray | None = None,
    cfg: MEPConfig | None = None,
) -> dict[str, np.ndarray]:
    """Instances of one image from its semantic map by ``method``.

    Args:
        method: ``"baiseg"`` (needs ``boundary_prob``), ``"cc"`` or ``"dtws"``.
        semantic: uint8/int H x W semantic ids (0 background, 1..K classes, 255 void).
        boundary_prob: float H x W in [0, 1]: the model's boundary map (also used in the baiseg score).
        sem_prob: float (K + 1) x H x W softmax probabilities, or None (ground-truth / external semantics).
        image: uint8 H x W x 3, used when ``cfg.watershed_on == "image"``.
        cfg: MEP parameters (defaults when None).

    Returns:
        ``{"masks": bool N x H x W, "classes": int64 N (1..K), "scores": float32 N in [0, 1]}``.
    """
    cfg = cfg or MEPConfig()
    semantic = np.asarray(semantic)
    if semantic.ndim != 2:
        raise BaisegError(f"semantic map must be H x W, got shape {semantic.shape}: pass class ids, not colours")
    if method == "baiseg":
        if boundary_prob is None:
            raise BaisegError("method 'baiseg' needs a boundary map (boundary_prob): use a model, or --method cc|dtws")
        labels = extract_masks(boundary_prob, semantic, image, cfg)
        return assemble_instances(labels, semantic, sem_prob=sem_prob, boundary_prob=boundary_prob, cfg=cfg)
    if method == "cc":
        labels = cc_labels(semantic, cfg.cc_min_area_px)
    elif method == "dtws":
        labels = dtws_labels(semantic, cfg.dtws_peak_frac, cfg.dtws_min_area_px)
    else:
        raise BaisegError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    return assemble_instances(labels, semantic, sem_prob=sem_prob, boundary_prob=None, cfg=cfg)
