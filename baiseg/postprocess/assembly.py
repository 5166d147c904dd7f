"""Instance assembly: class-agnostic label map + semantic map -> instances (classes, scores).

Class of a mask = the majority semantic class inside it; a class that covers at least ``split_min_frac`` of a mask's
class pixels (and ``min_area_px`` pixels) is split off, so a mask spanning two classes is split: each of its
8-connected components of at least ``min_area_px`` pixels becomes an instance (several small objects of one class
inside a larger object's mask, e.g. food in a bowl, stay separate). Smaller components, background and void inside a
mask stay with the majority piece.

Score (ours; docs/MEP.md "Instances", docs/DEVIATIONS.md): ``p_sem x (1 - mean boundary prob) x area / (area +
score_area_px)`` with ``score_rule: evidence``, or ``p_sem x area / (area + score_area_px)`` with ``score_rule:
area``. ``p_sem`` is the mean probability of the instance's class inside it (1 with an external or ground-truth
semantic map); the boundary term is 1 without a boundary map (the baselines). The size term is strictly increasing in
the area and never saturates, so with ground-truth semantics the baselines rank their instances by area, the best rule
available to them (an earlier ``1 - exp(-area / A)`` reached exactly 1 for every large mask and made their ranking a
coin toss)."""

from __future__ import annotations

import numpy as np

from baiseg.config import MEPConfig
from baiseg.config_rules import SCORE_RULES
from baiseg.errors import BaisegError
from baiseg.instances import Instances

__all__ = ["assemble_instances", "size_term"]

def assemble_instances(
    labels: np.ndarray,
    semantic: np.ndarray,
    *,
    sem_prob: np.ndarray | None = None,
    boundary_prob: np.ndarray | None = None,
    cfg: MEPConfig | None = None,
) -> Instances:
    """Turn a class-agnostic label map into instances (docs/ARCHITECTURE.md "Instances").

    Args:
        labels: int H x W, 0 = none, 1..N masks.
        semantic: uint8/int H x W semantic ids (0 background, 1..K classes, 255 void).
        sem_prob: float (K + 1) x H x W softmax probabilities, or None (external semantics: probability 1).
        boundary_prob: float H x W in [0, 1], or None (no boundary term).
        cfg: uses ``split_min_frac``, ``min_area_px`` (for split pieces), ``score_area_px``.

    Returns:
        ``Instances``: masks bool M x H x W, classes int64 M (1..K), scores float32 M in [0, 1]; sorted by
        descending score (stable).
    """
    cfg = cfg or MEPConfig()
    _check_inputs(sem_prob, boundary_prob, cfg)
    h, w = semantic.shape
    labels = np.asarray(labels)
    n = int(labels.max()) if labels.size else 0
    if n <= 0:
        return Instances.empty(h, w)
    sem = semantic.astype(np.int64)
    lut, piece_cls, major_of = _piece_table(labels, sem, n, cfg)
    if not piece_cls:
        return Instances.empty(h, w)
    pieces = lut[labels, np.clip(sem, 0, 255)]
    if major_of:
        pieces = _split_components(pieces, major_of, piece_cls, cfg.min_area_px)
    m = len(piece_cls)
    classes = np.asarray(piece_cls, np.int64)
    area, score = _piece_scores(pieces, classes, sem_prob, boundary_prob, cfg)
    keep = area > 0
    order = np.argsort(-score[keep], kind="stable")
    ids = (np.arange(1, m + 1)[keep])[order]
    masks = pieces[None] == ids[:, None, None]
    return Instances(masks, classes[keep][order], np.clip(score[keep][order], 0.0, 1.0).astype(np.float32))


def _check_inputs(sem_prob: np.ndarray | None, boundary_prob: np.ndarray | None, cfg: MEPConfig) -> None:
    """Refuse non-finite probability maps and an unknown ``score_rule`` (one-line errors)."""
    from baiseg.postprocess.nms import check_finite_map

    if sem_prob is not None:
        check_finite_map(np.asarray(sem_prob), "semantic probabilities")
    if boundary_prob is not None:
        check_finite_map(np.asarray(boundary_prob), "boundary map")
    if cfg.score_rule not in SCORE_RULES:
        raise BaisegError(f"mep.score_rule={cfg.score_rule!r} is not valid: use one of {', '.join(SCORE_RULES)}")


def _piece_table(labels: np.ndarray, sem: np.ndarray, n: int, cfg: MEPConfig,
                 ) -> tuple[np.ndarray, list[int], dict[int, int]]:
    """The pieces of masks 1..n by semantic class: each mask's majority class, plus split candidates (a class
    covering at least ``split_min_frac`` of the mask's class pixels and ``min_area_px`` pixels).

    Args:
        labels: int H x W mask ids (0 = none); sem: int64 H x W semantic ids (0 background, 255 void).

    Returns:
        (lut: int64 (n + 1) x 256, (mask id, semantic id) -> piece id (0 = none); the class of pieces 1..M;
        split candidate piece id -> the major piece id of its mask).
    """
    cls = np.where((sem > 0) & (sem < 255), sem, 0)
    hist = np.bincount((labels.astype(np.int64) * 256 + cls).ravel(), minlength=(n + 1) * 256).reshape(n + 1, 256)
    hist[:, 0] = 0
    lut = np.zeros((n + 1, 256), np.int64)  # (label, semantic id) -> piece id
    piece_cls: list[int] = []
    major_of: dict[int, int] = {}  # split candidate piece id -> the major piece id of its mask
    for i in range(1, n + 1):
        row = hist[i]
        total = int(row.sum())
        if total == 0:
            continue  # no class pixel: the mask lies in background only
        major = int(row.argmax())
        piece_cls.append(major)
        major_id = len(piece_cls)
        lut[i, :] = major_id
        for c in np.nonzero(row)[0]:
            if c != major and row[c] >= cfg.split_min_frac * total and row[c] >= max(cfg.min_area_px, 1):
                piece_cls.append(int(c))
                lut[i, c] = len(piece_cls)
                major_of[len(piece_cls)] = major_id
    lut[0, :] = 0
    return lut, piece_cls, major_of


def _piece_scores(pieces: np.ndarray, classes: np.ndarray, sem_prob: np.ndarray | None,
                  boundary_prob: np.ndarray | None, cfg: MEPConfig) -> tuple[np.ndarray, np.ndarray]:
    """Area and score of pieces 1..M: mean class probability x (1 - mean boundary, rule "evidence") x size term.

    Args:
        pieces: int H x W piece ids (0 = none); classes: int64 M, the class of each piece.

    Returns:
        (area: float64 M in pixels, score: float64 M, not yet clipped to [0, 1]).
    """
    m = len(classes)
    flat = pieces.ravel()
    area = np.bincount(flat, minlength=m + 1)[1:].astype(np.float64)
    score = np.ones(m, np.float64)
    if sem_prob is not None:
        sp = np.asarray(sem_prob)
        piece_class = np.concatenate([[0], classes])[pieces]
        p = np.take_along_axis(sp, piece_class[None], axis=0)[0]
        score *= np.bincount(flat, weights=p.ravel(), minlength=m + 1)[1:] / np.maximum(area, 1)
    if boundary_prob is not None and cfg.score_rule == "evidence":
        bsum = np.bincount(flat, weights=np.asarray(boundary_prob, np.float64).ravel(), minlength=m + 1)[1:]
        score *= 1.0 - bsum / np.maximum(area, 1)
    score *= size_term(area, cfg.score_area_px)
    return area, score


def _split_components(pieces: np.ndarray, major_of: dict[int, int], piece_cls: list[int], min_px: int) -> np.ndarray:
    """Split each minor-class piece into its 8-connected components: components of at least ``min_px`` pixels that are
    not slivers (at least half of their pixels survive a 3x3 erosion) become pieces of their own (``piece_cls``
    grows); the others go back to the major piece of their mask (e.g. the 1-px seam of another class along a cut).

    Args:
        pieces: int64 H x W piece ids (0 = none); modified copy returned.
        major_of: minor piece id -> major piece id of the same mask.
        piece_cls: class of each piece id - 1 (appended to).
        min_px: minimum component area.
    """
    import cv2

    pieces = pieces.copy()
    for pid, major_id in major_of.items():
        ys, xs = np.nonzero(pieces == pid)
        if ys.size == 0:
            continue
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        crop = pieces[y0:y1, x0:x1]
        binary = (crop == pid).astype(np.uint8)
        k, comp, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
        eroded = cv2.erode(binary, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
        core = np.bincount(comp[eroded > 0], minlength=k)
        first = True
        for j in range(1, k):
            here = comp == j
            area = stats[j, cv2.CC_STAT_AREA]
            if area < max(min_px, 1) or 2 * core[j] < area:
                crop[here] = major_id
            elif first:
                first = False  # the first large component keeps the piece id
            else:
                piece_cls.append(piece_cls[pid - 1])
                crop[here] = len(piece_cls)
        if first:  # no component large enough: the piece does not exist any more
            crop[crop == pid] = major_id
    return pieces


def size_term(area_px: np.ndarray, score_area_px: float) -> np.ndarray:
    """Size term of the score: ``area / (area + score_area_px)`` in [0, 1), strictly increasing in the area, so
    that ranking by it is ranking by area at any scale (1 when ``score_area_px`` <= 0)."""
    area = np.asarray(area_px, np.float64)
    if score_area_px <= 0:
        return np.ones_like(area)
    return area / (area + float(score_area_px))
