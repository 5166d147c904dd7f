"""SAM masks + semantic map -> ``Instances`` (docs/ARCHITECTURE.md "Instances"). Pure NumPy/OpenCV, no model.

1. Each SAM mask gets the majority semantic class (ids 1..254) of its pixels; the pixels of other classes, background
   and void are removed. A mask whose class covers less than ``min_inside_frac`` of it, or fewer than ``min_area_px``
   pixels, is dropped.
2. Overlaps: pieces claim their pixels one after another (``paint="area"``: larger first, so parts are absorbed by
   whole objects; ``"score"``: higher score first); a piece left with fewer than ``min_area_px`` pixels or less than
   ``min_keep_frac`` of its own is dropped and claims nothing. Every pixel thus belongs to at most one instance.
3. Foreground not claimed by any piece becomes instances by 8-connected components of each class (at least
   ``min_area_px`` pixels), so the recall is never below that of the ``cc`` baseline.
4. Score (``score="sam"``): SAM predicted IoU x mean probability of the class inside the final mask (1 without
   ``sem_prob``); leftover components use ``leftover_iou`` x that probability x area / (area + area_scale_px).
   ``score="area"``: area / (area + area_scale_px) for every instance.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from baiseg.errors import BaisegError
from baiseg.instances import Instances
from baiseg.sam.config import SAMConfig


@dataclass
class _Piece:
    mask: np.ndarray  # bool H x W
    cls: int  # semantic id 1..254
    iou: float  # SAM predicted IoU (leftover_iou for leftover components)
    leftover: bool = False


def assemble_sam_instances(
    sam_masks: np.ndarray,
    sam_iou: np.ndarray,
    semantic: np.ndarray,
    *,
    sem_prob: np.ndarray | None = None,
    cfg: SAMConfig | None = None,
) -> Instances:
    """Turn class-agnostic SAM masks into class instances with the semantic map (steps in the module docstring).

    Args:
        sam_masks: bool P x H x W SAM masks (any overlap, P may be 0).
        sam_iou: float P, SAM predicted IoU of each mask, in [0, 1].
        semantic: uint8/int H x W semantic ids (0 background, 1..K classes, 255 void).
        sem_prob: float (K + 1) x H x W class probabilities, or None (ground-truth semantics: probability 1).
        cfg: uses ``min_inside_frac``, ``min_area_px``, ``min_keep_frac``, ``paint``, ``score``, ``leftover_iou``,
            ``area_scale_px``.

    Returns:
        ``Instances``: masks bool N x H x W (disjoint), classes int64 N (1..K), scores float32 N in [0, 1]; sorted
        by descending score (stable).
    """
    cfg = cfg or SAMConfig()
    sem = np.asarray(semantic).astype(np.int64)
    if sem.ndim != 2:
        raise BaisegError(f"semantic map must be H x W, got shape {sem.shape}: pass class ids, not colours")
    h, w = sem.shape
    masks = np.asarray(sam_masks, bool)
    ious = np.asarray(sam_iou, np.float64).reshape(-1)
    if masks.size == 0:
        masks = np.zeros((0, h, w), bool)
    if masks.ndim != 3 or masks.shape[1:] != (h, w) or len(masks) != len(ious):
        raise BaisegError(f"SAM masks {masks.shape} and IoUs {ious.shape} do not fit the {h}x{w} semantic map: "
                          "expected P x H x W masks and P IoU values")  # fmt: skip
    cls_map = np.where((sem > 0) & (sem < 255), sem, 0)
    pieces = _class_pieces(masks, ious, cls_map, cfg)
    claimed = np.zeros((h, w), bool)
    kept: list[_Piece] = []
    for p in _paint_order(pieces, sem_prob, cfg):
        visible = p.mask & ~claimed
        area = int(visible.sum())
        if area < max(cfg.min_area_px, 1) or area < cfg.min_keep_frac * p.mask.sum():
            continue
        claimed |= visible
        kept.append(_Piece(visible, p.cls, p.iou))
    kept += _leftover_components(np.where(claimed, 0, cls_map), cfg)
    if not kept:
        return Instances.empty(h, w)
    scores = np.array([_score(p, sem_prob, cfg) for p in kept], np.float64)
    order = np.argsort(-scores, kind="stable")
    return Instances(np.stack([kept[i].mask for i in order]), np.array([kept[i].cls for i in order], np.int64),
                     np.clip(scores[order], 0.0, 1.0).astype(np.float32))


def _class_pieces(masks: np.ndarray, ious: np.ndarray, cls_map: np.ndarray, cfg: SAMConfig) -> list[_Piece]:
    """Step 1: each SAM mask restricted to its majority class; masks mostly outside their class are dropped."""
    out = []
    for m, iou in zip(masks, ious):
        total = int(m.sum())
        if total == 0:
            continue
        counts = np.bincount(cls_map[m], minlength=256)
        counts[0] = 0
        c = int(counts.argmax())
        if counts[c] < max(cfg.min_area_px, 1) or counts[c] < cfg.min_inside_frac * total:
            continue
        out.append(_Piece(m & (cls_map == c), c, float(iou)))
    return out


def _paint_order(pieces: list[_Piece], sem_prob: np.ndarray | None, cfg: SAMConfig) -> list[_Piece]:
    """Pieces in the order in which they claim pixels (stable): by area or by score, descending."""
    if cfg.paint == "area":
        key = [float(p.mask.sum()) for p in pieces]
    else:
        key = [_score(p, sem_prob, cfg) for p in pieces]
    return [pieces[i] for i in np.argsort(-np.asarray(key, np.float64), kind="stable")]


def _leftover_components(cls_map: np.ndarray, cfg: SAMConfig) -> list[_Piece]:
    """Step 3: 8-connected components of each class in ``cls_map`` (int H x W, 0 = none), >= min_area_px pixels."""
    out = []
    for c in np.unique(cls_map):
        if c == 0:
            continue
        k, comp, stats, _ = cv2.connectedComponentsWithStats((cls_map == c).astype(np.uint8), connectivity=8)
        for j in range(1, k):
            if stats[j, cv2.CC_STAT_AREA] >= max(cfg.min_area_px, 1):
                out.append(_Piece(comp == j, int(c), cfg.leftover_iou, leftover=True))
    return out


def _score(p: _Piece, sem_prob: np.ndarray | None, cfg: SAMConfig) -> float:
    """Step 4: the ranking score of one piece, in [0, 1]."""
    area = float(p.mask.sum())
    size = area / (area + cfg.area_scale_px) if cfg.area_scale_px > 0 else 1.0
    if cfg.score == "area":
        return size
    p_sem = float(np.asarray(sem_prob)[p.cls][p.mask].mean()) if sem_prob is not None and area > 0 else 1.0
    return p.iou * p_sem * (size if p.leftover else 1.0)
