"""Instances: the ``Instances`` type (docs/ARCHITECTURE.md "Instances"), their boxes, COCO RLE, and the one COCO
results serializer (``coco_results``).

``Instances`` is what every producer of predicted instances returns (the MEP's assembly, the baselines, the SAM
assembly and refinement, Mask R-CNN, every segmenter's ``finish``) and what every consumer takes (the evaluators,
overlays, reports, ``predict``, the pseudo-label writer). One implementation of each helper, so that every results
JSON encodes masks, scores and image ids the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from baiseg.errors import BaisegError

MAX_CLASS_ID = 254  # semantic ids are uint8: 0 background, 1..254 classes, 255 void


class InstancesError(BaisegError):
    """Arrays that do not make ``Instances`` (shapes, mask values, class ids, scores)."""


def check_size(height: object, width: object, what: str) -> None:
    """``height`` and ``width`` are integers of at least 1 (else an ``InstancesError`` naming ``what``)."""
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in (height, width)):
        raise InstancesError(f"{what}({height!r}, {width!r}): give a height and a width of at least 1")


def check_arrays(masks: object, classes: object, scores: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The gate of ``Instances``: masks N x H x W of 0/1, classes N integers in 1..254, scores N finite.

    Returns:
        ``(bool N x H x W, int64 N, float32 N)``.

    Raises:
        InstancesError: one line naming the first array that is wrong.
    """
    m = np.asarray(masks)
    c = np.asarray(classes).reshape(-1)
    sc = np.asarray(scores).reshape(-1)
    if m.ndim != 3 or not m.shape[0] == c.shape[0] == sc.shape[0]:
        raise InstancesError(f"Instances: masks N x H x W, classes N and scores N, got shapes {m.shape}, {c.shape}, "
                             f"{sc.shape}")  # fmt: skip
    if m.dtype != bool and m.size and not (m.dtype.kind in "biuf" and np.isin(m, (0, 1)).all()):
        raise InstancesError(f"Instances: masks of dtype {m.dtype} hold values other than 0 and 1: give bool masks")
    if c.size and (c.dtype.kind not in "biuf" or not np.isfinite(c.astype(np.float64)).all()
                   or (c != np.round(c)).any() or c.min() < 1 or c.max() > MAX_CLASS_ID):  # fmt: skip
        raise InstancesError(f"Instances: class ids {c[:5].tolist()}...: give integer semantic ids 1..{MAX_CLASS_ID} "
                             "(0 = background is not an instance)")  # fmt: skip
    if sc.size and (sc.dtype.kind not in "biuf" or not np.isfinite(sc.astype(np.float64)).all()):
        raise InstancesError(f"Instances: scores {sc[:5].tolist()}...: give finite numbers")
    return m.astype(bool, copy=False), c.astype(np.int64), sc.astype(np.float32)


def encode_rle(masks: np.ndarray) -> list[dict[str, Any]]:
    """Compressed COCO RLE of each mask, with ``counts`` as a str (JSON-ready).

    Args:
        masks: N x H x W, bool or 0/1 (converted to uint8).

    Returns:
        N dicts ``{"size": [H, W], "counts": str}``.
    """
    from pycocotools import mask as mask_util

    masks = np.asarray(masks)
    if masks.shape[0] == 0:
        return []
    rles = mask_util.encode(np.asfortranarray(masks.astype(np.uint8).transpose(1, 2, 0)))
    for r in rles:
        r["counts"] = r["counts"].decode("ascii")
    return list(rles)


def id_collisions(ids: list[str], names: list[str]) -> list[str]:
    """Problems, one per pair of inputs whose written ids collide: the id that names their output files and their
    results entries (``coco_image_id``: ``7`` and ``007`` both become 7; ``a.png`` and ``a.jpg`` are both ``a``).

    Args:
        ids: the image ids, one per input; names: what each input is (its file), for the messages.
    """
    first: dict[str, int] = {}
    out = []
    for i, image_id in enumerate(ids):
        key = str(coco_image_id(image_id))
        if key in first:
            j = first[key]
            out.append(f"'{names[j]}' and '{names[i]}' have the same image id '{key}' (ids are file stems; all-digit "
                       "stems are read as numbers): rename one, or their outputs and results would overwrite each "
                       "other")  # fmt: skip
        else:
            first[key] = i
    return out


def coco_image_id(image_id: str | int) -> int | str:
    """The ``image_id`` written to a results file: an int for all-digit file stems (COCO's convention,
    ``"000000000139"`` -> ``139``), else the stem itself."""
    s = str(image_id)
    return int(s) if s.isdigit() else s


def mask_boxes(masks: np.ndarray) -> np.ndarray:
    """Tight boxes of masks (the one box helper).

    Args:
        masks: bool N x H x W.

    Returns:
        float32 N x 4 ``(x0, y0, x1, y1)`` in pixels, ``x1``/``y1`` exclusive; zeros for an empty mask.
    """
    masks = np.asarray(masks)
    n = masks.shape[0]
    boxes = np.zeros((n, 4), np.float32)
    if n == 0:
        return boxes
    rows, cols = masks.any(axis=2), masks.any(axis=1)
    for i in range(n):
        ys, xs = np.nonzero(rows[i])[0], np.nonzero(cols[i])[0]
        if ys.size:
            boxes[i] = (xs[0], ys[0], xs[-1] + 1, ys[-1] + 1)
    return boxes


def box_xywh(box: np.ndarray) -> list[float]:
    """COCO ``bbox`` ``[x, y, w, h]`` of one ``(x0, y0, x1, y1)`` box from ``mask_boxes``."""
    return [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])]


def coco_results(
    instances: Instances, image_id: str | int, category_ids: list[int] | None = None
) -> list[dict[str, Any]]:
    """COCO results entries (segm) of one image: the one serializer behind every results file.

    No ``bbox``: pycocotools' ``loadRes`` takes a result's area from its box when one is present, which sizes masks
    by their boxes in AP_small / medium / large; without it the area comes from the mask.

    Args:
        instances: the instances of the image; ``classes`` are semantic ids 1..K.
        image_id: the image's id (written through ``coco_image_id``).
        category_ids: K dataset category ids (semantic id ``k + 1`` -> ``category_ids[k]``); None writes the semantic
            ids themselves.

    Returns:
        N dicts ``{"image_id", "category_id", "segmentation": {"size": [H, W], "counts": str}, "score"}``, scores
        rounded to 9 places (area-ranked scores near 1 must not tie).

    Raises:
        InstancesError: a class id above ``len(category_ids)``.
    """
    iid = coco_image_id(image_id)
    if category_ids is not None and len(instances) and int(instances.classes.max()) > len(category_ids):
        raise InstancesError(f"class id {int(instances.classes.max())} has no category id: {len(category_ids)} "
                             "category_ids were given, one per class 1..K")  # fmt: skip
    out = []
    for rle, c, score in zip(encode_rle(instances.masks), instances.classes, instances.scores, strict=True):
        cat = int(c) if category_ids is None else int(category_ids[int(c) - 1])
        out.append({"image_id": iid, "category_id": cat, "segmentation": rle, "score": round(float(score), 9)})
    return out


@dataclass(frozen=True)
class Instances:
    """The instances of one image.

    Attributes:
        masks: bool N x H x W (0/1 values of another dtype are converted).
        classes: int64 N, semantic ids 1..K (K <= 254).
        scores: float32 N, finite (the producers give [0, 1]; a results file may hold any finite score).

    Raises:
        InstancesError: shapes that disagree, masks not 0/1, classes not integers in 1..254, scores not finite
            (``check_arrays``, the one gate of every producer, docs/HARDENING.md).
    """

    masks: np.ndarray
    classes: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        masks, classes, scores = check_arrays(self.masks, self.classes, self.scores)
        object.__setattr__(self, "masks", masks)
        object.__setattr__(self, "classes", classes)
        object.__setattr__(self, "scores", scores)

    @classmethod
    def empty(cls, height: int, width: int) -> Instances:
        """No instance in an image of ``height`` x ``width`` (masks bool 0 x H x W, classes int64 (0,), scores
        float32 (0,))."""
        check_size(height, width, "Instances.empty")
        return cls(np.zeros((0, height, width), bool), np.zeros((0,), np.int64), np.zeros((0,), np.float32))

    def __len__(self) -> int:
        return int(self.classes.shape[0])

    @property
    def image_size(self) -> tuple[int, int]:
        """``(H, W)``."""
        return int(self.masks.shape[1]), int(self.masks.shape[2])

    def boxes(self) -> np.ndarray:
        """float32 N x 4 ``(x0, y0, x1, y1)``, exclusive ends (``mask_boxes``)."""
        return mask_boxes(self.masks)

    def select(self, keep: np.ndarray | list[int] | slice) -> Instances:
        """The instances at ``keep`` (bool N, indices or a slice), in that order."""
        if not isinstance(keep, slice):
            keep = np.asarray(keep).reshape(-1)
            n = len(self)
            if keep.dtype == bool and keep.shape[0] != n:
                raise InstancesError(f"Instances.select: a bool selection of {keep.shape[0]} for {n} instances")
            if keep.dtype != bool and keep.size and (keep.dtype.kind not in "iu" or keep.min() < -n
                                                     or keep.max() >= n):  # fmt: skip
                raise InstancesError(f"Instances.select: indices {keep[:5].tolist()}...: give integers below {n}")
            keep = keep if keep.dtype == bool else keep.astype(np.int64)
        return Instances(self.masks[keep], self.classes[keep], self.scores[keep])

    def resize(self, height: int, width: int) -> Instances:
        """Masks resized to ``height`` x ``width`` by the nearest pixel centre (``cv2.INTER_NEAREST_EXACT``, the
        convention of the half-pixel bilinear maps); classes and scores unchanged."""
        import cv2

        check_size(height, width, "Instances.resize")
        if self.image_size == (height, width):
            return self
        out = np.zeros((len(self), height, width), bool)
        for i, m in enumerate(self.masks):
            out[i] = cv2.resize(m.view(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST_EXACT) > 0
        return Instances(out, self.classes, self.scores)

    def to_coco(self, image_id: str | int, category_ids: list[int] | None = None) -> list[dict[str, Any]]:
        """COCO results entries of these instances (``coco_results``)."""
        return coco_results(self, image_id, category_ids)
