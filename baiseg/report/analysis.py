"""Per-image error analysis of predicted instances against the ground truth, and precision-recall curves.

Each image's predictions are matched to its GT at IoU 0.5 with the VOC rule (``baiseg.evaluation.voc``: per class, by
decreasing score, each prediction takes its best-IoU GT if that reaches 0.5 and is still free). The errors counted:

- **split**: a GT instance of which at least two predictions of its class each lie mostly (>= 50 % of their area)
  inside it and cover at least 10 % of it: it was cut into pieces (one piece may still match it at IoU 0.5; the
  other pieces are then not counted as false);
- **merged**: a prediction that covers at least half of each of two or more GT instances of its class: it joined
  them (it may still match one of them at IoU 0.5; the others are then merged, not missed);
- **missed**: a GT instance that no prediction matched and that is neither split nor part of a merge;
- **false**: a prediction that matched nothing and is neither a merge nor a piece of a split GT.

Crowd GT regions count nowhere (a prediction on one is ignored, as in the VOC evaluator).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from baiseg.evaluation.voc import match_image_class
from baiseg.instances import Instances

IOU_THR = 0.5
PIECE_INSIDE = 0.5  # a split piece lies at least this much inside its GT
PIECE_COVER = 0.1  # ... and covers at least this much of it
MERGE_COVER = 0.5  # a merge covers at least this much of each GT it joins
ERROR_KINDS = ("missed", "false", "split", "merged")


def _boxes(masks: np.ndarray) -> np.ndarray:
    """int64 N x 4 ``(y0, y1, x0, x1)`` (end exclusive) of each mask; ``(0, 0, 0, 0)`` for an empty one."""
    out = np.zeros((len(masks), 4), np.int64)
    for k, m in enumerate(masks):
        rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
        if len(rows):
            out[k] = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return out


def _overlaps(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IoU, intersection / prediction area and intersection / GT area (float64 N x M each).

    Exact pixel counts, computed only for the pairs whose bounding boxes meet (no matrix product: a multi-threaded
    BLAS on a busy machine made it the slowest part of a report).
    """
    pa = pred.reshape(len(pred), -1).sum(1).astype(np.float64)
    ga = gt.reshape(len(gt), -1).sum(1).astype(np.float64)
    pb, gb = _boxes(pred), _boxes(gt)
    y0, y1 = np.maximum(pb[:, None, 0], gb[None, :, 0]), np.minimum(pb[:, None, 1], gb[None, :, 1])
    x0, x1 = np.maximum(pb[:, None, 2], gb[None, :, 2]), np.minimum(pb[:, None, 3], gb[None, :, 3])
    inter = np.zeros((len(pred), len(gt)), np.float64)
    for i, j in zip(*np.nonzero((y1 > y0) & (x1 > x0))):
        ys, xs = slice(y0[i, j], y1[i, j]), slice(x0[i, j], x1[i, j])
        inter[i, j] = np.count_nonzero(pred[i, ys, xs] & gt[j, ys, xs])
    union = pa[:, None] + ga[None, :] - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    in_pred = np.divide(inter, pa[:, None], out=np.zeros_like(inter), where=pa[:, None] > 0)
    in_gt = np.divide(inter, ga[None, :], out=np.zeros_like(inter), where=ga[None, :] > 0)
    return iou, in_pred, in_gt


def analyse_image(pred: Instances, gt: dict[str, np.ndarray]) -> dict[str, Any]:
    """Match one image's predictions to its GT at IoU 0.5 and count its errors.

    Args:
        pred: the predicted ``Instances`` (classes 1..K).
        gt: ``{"masks": bool M x H x W, "classes": int M, "crowd": bool M (optional)}``.

    Returns:
        ``{"errors": {missed, false, split, merged: int}, "pred": [per prediction {"iou": best IoU with a GT of its
        class in [0, 1], "tp": 1 / 0 / -1 (ignored), "kind": "tp" | "false" | "merged" | "piece" | "ignored"}],
        "gt": [per GT {"iou": best IoU, "kind": "tp" | "missed" | "split" | "merged" | "crowd"}]}``.
    """
    pm, gm = pred.masks, np.asarray(gt["masks"], bool)
    pc, gc = pred.classes, np.asarray(gt["classes"]).reshape(-1)
    crowd = np.asarray(gt.get("crowd", np.zeros(len(gc), bool)), bool).reshape(-1)
    n, m = len(pm), len(gm)
    iou, in_pred, in_gt = _overlaps(pm, gm) if n and m else (np.zeros((n, m)),) * 3
    same = pc[:, None] == gc[None, :]
    iou, in_pred, in_gt = iou * same, in_pred * same, in_gt * same
    tp = np.zeros(n, np.int8)
    order = np.argsort(-pred.scores.astype(np.float64), kind="stable")
    for c in np.unique(pc):
        rows = order[pc[order] == c]
        cols = np.flatnonzero(gc == c)
        tp[rows] = match_image_class(iou[np.ix_(rows, cols)], IOU_THR, crowd[cols])
    matched_gt = np.zeros(m, bool)
    if n and m:
        best = np.where(iou >= IOU_THR, iou, -1).argmax(axis=1)
        matched_gt[best[tp == 1]] = True
    free = tp == 0
    real = ~crowd
    pieces = (in_pred >= PIECE_INSIDE) & (in_gt >= PIECE_COVER) & real[None, :]
    split_gt = (pieces.sum(0) >= 2) & real
    merge_cover = (in_gt >= MERGE_COVER) & real[None, :]
    merged_pred = (tp != -1) & (merge_cover.sum(1) >= 2)
    merged_gt = (merge_cover & merged_pred[:, None]).any(0) & ~matched_gt & ~split_gt
    piece_pred = free & ~merged_pred & (pieces & split_gt[None, :]).any(1)
    false_pred = free & ~merged_pred & ~piece_pred
    missed_gt = real & ~matched_gt & ~split_gt & ~merged_gt
    errors = {"missed": int(missed_gt.sum()), "false": int(false_pred.sum()), "split": int(split_gt.sum()),
              "merged": int(merged_pred.sum())}  # fmt: skip
    p_kind = np.where(tp == 1, "tp", np.where(tp == -1, "ignored", "false")).astype(object)
    p_kind[merged_pred], p_kind[piece_pred] = "merged", "piece"
    g_kind = np.where(matched_gt, "tp", "missed").astype(object)
    g_kind[split_gt], g_kind[merged_gt], g_kind[crowd] = "split", "merged", "crowd"
    p_best = iou.max(1) if m else np.zeros(n)
    g_best = iou.max(0) if n else np.zeros(m)
    return {
        "errors": errors,
        "pred": [{"iou": float(p_best[i]), "tp": int(tp[i]), "kind": str(p_kind[i])} for i in range(n)],
        "gt": [{"iou": float(g_best[j]), "kind": str(g_kind[j])} for j in range(m)],
    }


def pr_curve(scores: list[float], tps: list[int], num_gt: int, max_points: int = 101) -> dict[str, Any]:
    """Precision-recall curve of one class from its predictions over the dataset (VOC AP at the matching IoU).

    Args:
        scores: score of every prediction of the class; tps: its 1 (TP) / 0 (FP) / -1 (ignored) from the matching.
        num_gt: number of non-crowd GT instances of the class.
        max_points: the curve is thinned to about this many points (the ends kept).

    Returns:
        ``{"recall": [...], "precision": [...] (in [0, 1], same length), "ap": area under the monotone precision
        envelope in [0, 1] or None without GT}``.
    """
    s, t = np.asarray(scores, np.float64), np.asarray(tps, np.int64)
    keep = t >= 0
    s, t = s[keep], t[keep]
    order = np.argsort(-s, kind="stable")
    tp = np.cumsum(t[order] == 1)
    fp = np.cumsum(t[order] == 0)
    if num_gt <= 0:
        return {"recall": [], "precision": [], "ap": None}
    recall = tp / num_gt
    precision = tp / np.maximum(tp + fp, 1)
    env = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
    prev = np.concatenate([[0.0], recall[:-1]]) if len(recall) else recall
    ap = float(np.sum((recall - prev) * env)) if len(recall) else 0.0
    idx = np.unique(np.linspace(0, max(len(recall) - 1, 0), min(len(recall), max_points)).round().astype(int))
    return {"recall": [round(float(r), 4) for r in recall[idx]] if len(recall) else [],
            "precision": [round(float(p), 4) for p in precision[idx]] if len(recall) else [], "ap": ap}  # fmt: skip


def total_errors(errors: dict[str, int]) -> int:
    """Sum of the four error counts of an image (the sort key of the image browser)."""
    return int(sum(errors.get(k, 0) for k in ERROR_KINDS))
