"""Region merging across weak borders: keep a cut only where the boundary map supports it (docs/MEP.md).

The MEP's watershed cuts the semantic foreground along every ridge of the boundary map, including ridges that are
only texture inside one object (a patterned shirt, a plate of food). Here every pair of adjacent regions of the same
semantic class gets a *border strength*: the mean boundary probability over the pixel pairs that straddle their
shared border. Pairs are merged hierarchically, weakest border first (the merged region's borders are the pixel-count
weighted union of its parts' borders), until every remaining border is at least ``thr``. With ``thr`` above 1 every
cut inside a class region disappears and the result equals connected components of the semantic map; with ``thr`` 0
nothing is merged. Regions smaller than ``min_area_px`` are merged into their weakest-bordered neighbour first, so no
sliver survives as an instance.
"""

from __future__ import annotations

import cv2
import numpy as np

from baiseg.postprocess import kernels
from baiseg.postprocess.labels import label_boxes, relabel


def border_strengths(
    labels: np.ndarray, boundary_prob: np.ndarray, semantic: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Borders between adjacent regions of the same semantic class (4-neighbour pixel pairs).

    Args:
        labels: int H x W region ids (0 = none).
        boundary_prob: float H x W in [0, 1].
        semantic: int H x W semantic ids; pairs whose two pixels differ in class are not borders.

    Returns:
        ``(pairs int64 P x 2 with pairs[:, 0] < pairs[:, 1], sum float64 P of max(B_p, B_q) over the pixel pairs,
        count int64 P of pixel pairs)``.
    """
    lab = _as_int(labels)
    b = np.asarray(boundary_prob)
    if b.dtype.kind != "f":
        b = b.astype(np.float64)
    base = int(lab.max()) + 1
    if _c_ready(lab, semantic) and b.dtype == np.float32 and base <= _DENSE_MAX:  # C skips labels <= 0 as NumPy does
        sums, counts = np.zeros((base, base)), np.zeros((base, base), np.int64)
        h, w = lab.shape
        kernels.native.border_sums(np.ascontiguousarray(lab), np.ascontiguousarray(b), np.ascontiguousarray(semantic),
                                base - 1, sums, counts, h, w)  # fmt: skip
        a, c = np.nonzero(counts)  # row-major: the order of np.unique over a * base + c
        return np.stack([a, c], axis=1).astype(np.int64), sums[a, c], counts[a, c]
    keys, vals = [], []
    for a, bb, pa, pb, sa, sb in (
        (lab[:, :-1], lab[:, 1:], b[:, :-1], b[:, 1:], semantic[:, :-1], semantic[:, 1:]),
        (lab[:-1, :], lab[1:, :], b[:-1, :], b[1:, :], semantic[:-1, :], semantic[1:, :]),
    ):
        m = (a != bb) & (np.minimum(a, bb) > 0) & (sa == sb)
        if not m.any():
            continue
        am, bm = a[m].astype(np.int64), bb[m].astype(np.int64)
        keys.append(np.minimum(am, bm) * base + np.maximum(am, bm))
        # the maximum of two floats is one of them: taking it before the conversion to float64 changes nothing
        vals.append(np.maximum(pa[m], pb[m]).astype(np.float64))
    if not keys:
        return np.zeros((0, 2), np.int64), np.zeros(0), np.zeros(0, np.int64)
    k, v = np.concatenate(keys), np.concatenate(vals)
    uniq, inv = np.unique(k, return_inverse=True)
    pairs = np.stack([uniq // base, uniq % base], axis=1)
    return pairs, np.bincount(inv, weights=v), np.bincount(inv).astype(np.int64)


#: Largest label count + 1 for the dense border table of the C kernel (beyond it: NumPy).
_DENSE_MAX = 512


def _c_ready(lab: np.ndarray, semantic: np.ndarray) -> bool:
    """Whether the C kernels (baiseg/postprocess/native/) take these maps: int32 labels, uint8 classes, 2-D."""
    return (kernels.USE_C_KERNELS and lab.dtype == np.int32 and lab.ndim == 2 and lab.size > 0
            and np.asarray(semantic).dtype == np.uint8 and np.shape(semantic) == lab.shape)  # fmt: skip


def _as_int(labels: np.ndarray) -> np.ndarray:
    """The label map as int32 / int64 (no copy when it already is one)."""
    lab = np.asarray(labels)
    return lab if lab.dtype in (np.int32, np.int64) else lab.astype(np.int64)


def open_border(labels: np.ndarray, semantic: np.ndarray) -> np.ndarray:
    """Per region id, the number of its pixels' 4-neighbours outside any same-class region (background, void, another
    class, unlabelled) plus its pixels on the image border: 0 means the region is enclosed by regions of its class.

    Returns:
        int64 (max id + 1,) counts.
    """
    lab = _as_int(labels)
    n = int(lab.max()) + 1
    count = np.zeros(n, np.int64)
    if _c_ready(lab, semantic) and lab.min(initial=0) >= 0:
        h, w = lab.shape
        kernels.native.open_border(np.ascontiguousarray(lab), np.ascontiguousarray(semantic), n - 1, count, h, w)
        return count
    for a, bb, sa, sb in ((lab[:, :-1], lab[:, 1:], semantic[:, :-1], semantic[:, 1:]),
                          (lab[:-1, :], lab[1:, :], semantic[:-1, :], semantic[1:, :])):  # fmt: skip
        diff = sa != sb
        count += np.bincount(a[(diff | (bb == 0)) & (a > 0)], minlength=n)
        count += np.bincount(bb[(diff | (a == 0)) & (bb > 0)], minlength=n)
    for edge in (lab[0], lab[-1], lab[:, 0], lab[:, -1]):
        count += np.bincount(edge[edge > 0], minlength=n)
    return count


def merge_weak_borders(
    labels: np.ndarray,
    boundary_prob: np.ndarray,
    semantic: np.ndarray,
    *,
    thr: float,
    min_area_px: int = 0,
    enclosed: bool = False,
    neck_ratio: float = 0.0,
    neck_max_strength: float = 2.0,
) -> np.ndarray:
    """Merge adjacent same-class regions across borders whose mean boundary probability is below ``thr``.

    Args:
        labels: int H x W region ids (0 = none).
        boundary_prob: float H x W in [0, 1].
        semantic: int H x W semantic ids (0 background, 1..K, 255 void).
        thr: border strength in [0, 1] a cut needs to be kept (> 1: merge every same-class neighbour).
        min_area_px: regions smaller than this merge into the neighbour with the weakest border, whatever ``thr``.
        enclosed: a region whose whole outline borders one other region of its class (an inner ring of a textured
            object, a patch inside it) merges into that region, whatever ``thr``.
        neck_ratio: > 0: a cut that does not follow a neck of the two regions' union also merges, whatever its
            boundary strength: the union's distance-to-outside at the cut (its saddle) is at least ``neck_ratio`` x
            the smaller of the two regions' peak distances (a fragment cut off a body by an internal edge; two
            people side by side meet at a neck and stay apart). 0 disables.
        neck_max_strength: the neck rule only merges across borders whose strength is below this (a strong, complete
            boundary between two boxes packed side by side, which meet without a neck, is kept). > 1: no limit.

    Returns:
        int32 H x W label map, ids renumbered 1..N.
    """
    n = int(labels.max()) if labels.size else 0
    if n <= 1:
        return relabel(labels)
    # Everything here happens next to a labelled pixel: work in the labels' box with a 1-px frame (clipped at the image
    # border, so the crop's edges are the image's edges or unlabelled) and put the result back into an empty map.
    x, y, w, h = cv2.boundingRect((labels > 0).view(np.uint8))
    y0, y1, x0, x1 = max(y - 1, 0), min(y + h + 1, labels.shape[0]), max(x - 1, 0), min(x + w + 1, labels.shape[1])
    if (y1 - y0, x1 - x0) != labels.shape:
        out = np.zeros(labels.shape, np.int32)
        out[y0:y1, x0:x1] = merge_weak_borders(
            labels[y0:y1, x0:x1], np.asarray(boundary_prob)[y0:y1, x0:x1], semantic[y0:y1, x0:x1], thr=thr,
            min_area_px=min_area_px, enclosed=enclosed, neck_ratio=neck_ratio, neck_max_strength=neck_max_strength,
        )  # fmt: skip
        return out
    pairs, sums, counts = border_strengths(labels, boundary_prob, semantic)
    if len(pairs) == 0:
        return relabel(labels)
    area = np.bincount(labels.ravel().astype(np.int64), minlength=n + 1).astype(np.int64)
    initial_area = area.copy()
    opened = open_border(labels, semantic) if enclosed else None
    necks = _Necks(labels) if neck_ratio > 0 else None
    parent = _merge_all(_adjacency(pairs, sums, counts), area, opened, necks, thr=thr, min_area_px=min_area_px,
                        neck_ratio=neck_ratio, neck_max_strength=neck_max_strength)  # fmt: skip
    return _relabel_roots(labels, _roots(parent), initial_area)


def _relabel_roots(labels: np.ndarray, root: np.ndarray, initial_area: np.ndarray) -> np.ndarray:
    """``relabel(root[labels])`` in one gather: renumber the roots of the ids present, then map the ids."""
    present = np.zeros(len(root), bool)
    present[root[initial_area > 0]] = True
    present[0] = False
    lut = np.cumsum(present).astype(np.int32)
    lut[0] = 0
    return np.take(lut[root], _as_int(labels))


def _adjacency(pairs: np.ndarray, sums: np.ndarray, counts: np.ndarray) -> dict[int, dict[int, list[float]]]:
    """Region -> {neighbour: [border probability sum, border pixel-pair count]} (both directions share one list)."""
    adj: dict[int, dict[int, list[float]]] = {}
    for (a, c), s, k in zip(pairs.tolist(), sums.tolist(), counts.tolist(), strict=True):
        adj.setdefault(a, {})[c] = [s, k]
        adj.setdefault(c, {})[a] = [s, k]
    return adj


def _merge_all(adj: dict[int, dict[int, list[float]]], area: np.ndarray, opened: np.ndarray | None,
               necks: _Necks | None, *, thr: float, min_area_px: int, neck_ratio: float,
               neck_max_strength: float) -> np.ndarray:  # fmt: skip
    """Merge pairs until none qualifies (weakest border first; then the neck rule); ``adj``, ``area`` and ``opened``
    are updated in place.

    Returns:
        int (n + 1,) parent of each region id (a merged region points to the one it merged into).
    """
    parent = np.arange(len(area))
    while True:
        best = _next_merge(adj, area, thr, min_area_px, opened)
        if best is None and necks is not None:
            best = necks.next_merge(adj, area, neck_ratio, neck_max_strength)
        if best is None:
            return parent
        keep, gone = best
        if necks is not None:
            necks.merge(keep, gone)
        parent[gone] = keep
        area[keep] += area[gone]
        if opened is not None:
            opened[keep] += opened[gone]
        for nb, (s, k) in adj.pop(gone).items():
            del adj[nb][gone]
            if nb == keep:
                continue
            cur = adj[keep].setdefault(nb, [0.0, 0])
            cur[0] += s
            cur[1] += k
            adj[nb][keep] = cur


def _next_merge(
    adj: dict[int, dict[int, list[float]]],
    area: np.ndarray,
    thr: float,
    min_area_px: int,
    opened: np.ndarray | None,
) -> tuple[int, int] | None:
    """The next pair ``(keep, gone)``: a too-small region first, then an enclosed one, else the weakest border below
    ``thr``."""
    small = [r for r in adj if adj[r] and area[r] < min_area_px]
    if small:
        r = min(small, key=lambda x: area[x])
        nb = min(adj[r], key=lambda x: adj[r][x][0] / adj[r][x][1])
        return (nb, r) if area[nb] >= area[r] else (r, nb)
    if opened is not None:
        for r, nbs in adj.items():
            if len(nbs) == 1 and opened[r] == 0:
                return next(iter(nbs)), r
    weakest, pair = thr, None
    for r, nbs in adj.items():
        for nb, (s, k) in nbs.items():
            if r < nb and s / k < weakest:
                weakest, pair = s / k, (r, nb)
    if pair is None:
        return None
    a, c = pair
    return (a, c) if area[a] >= area[c] else (c, a)


class _Necks:
    """Neck test of adjacent regions on the current (partly merged) label map, cached per pair."""

    def __init__(self, labels: np.ndarray) -> None:
        self.cur = labels.astype(np.int32).copy()
        self.boxes = label_boxes(self.cur, int(self.cur.max()))  # inclusive y0, y1, x0, x1
        self.cache: dict[tuple[int, int], float] = {}

    def ratio(self, a: int, b: int) -> float:
        """Saddle / smaller peak of the distance transform of the union of regions ``a`` and ``b``."""
        key = (min(a, b), max(a, b))
        if key not in self.cache:
            ba, bb = self.boxes[a], self.boxes[b]
            y0, y1 = min(ba[0], bb[0]), max(ba[1], bb[1]) + 1
            x0, x1 = min(ba[2], bb[2]), max(ba[3], bb[3]) + 1
            crop = cv2.copyMakeBorder(self.cur[y0:y1, x0:x1], 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
            in_a, in_b = crop == a, crop == b
            dist = cv2.distanceTransform((in_a | in_b).astype(np.uint8), cv2.DIST_L2, 3)
            touch = np.zeros_like(in_a)
            for sy, sx in ((0, 1), (1, 0), (0, -1), (-1, 0)):
                touch |= in_a & np.roll(in_b, (sy, sx), axis=(0, 1))
            peak = min(float(dist[in_a].max()), float(dist[in_b].max()))
            self.cache[key] = float(dist[touch].max()) / max(peak, 1e-6) if touch.any() else 0.0
        return self.cache[key]

    def merge(self, keep: int, gone: int) -> None:
        y0, y1, x0, x1 = self.boxes[gone]
        box = self.cur[y0:y1 + 1, x0:x1 + 1]
        box[box == gone] = keep
        k = self.boxes[keep]
        self.boxes[keep] = (min(k[0], y0), max(k[1], y1), min(k[2], x0), max(k[3], x1))
        self.cache = {p: v for p, v in self.cache.items() if keep not in p and gone not in p}

    def next_merge(
        self, adj: dict[int, dict[int, list[float]]], area: np.ndarray, min_ratio: float, max_strength: float
    ) -> tuple[int, int] | None:
        """The pair with the highest neck ratio at or above ``min_ratio`` among the borders weaker than
        ``max_strength``, as ``(keep, gone)``, or None."""
        best, pair = min_ratio, None
        for r, nbs in adj.items():
            for nb, (s, k) in nbs.items():
                if r < nb and s / k < max_strength:
                    q = self.ratio(r, nb)
                    if q >= best:
                        best, pair = q, (r, nb)
        if pair is None:
            return None
        a, c = pair
        return (a, c) if area[a] >= area[c] else (c, a)


def _roots(parent: np.ndarray) -> np.ndarray:
    root = parent.copy()
    while True:
        nxt = root[root]
        if np.array_equal(nxt, root):
            return root
        root = nxt
