"""Image subsets that RESULTS.md reports on: images with touching instances of one class.

Definition (ours): two non-crowd GT instances **of the same class** touch when some pixel of one is within L1 (city
block) distance ``max_gap_px + 1`` of a pixel of the other, i.e. when one mask, dilated ``max_gap_px`` times with the
3x3 cross, becomes 4-adjacent to (or overlaps) the other. ``max_gap_px = 0`` asks for strict 4-adjacency; the default
1 also accepts the one-pixel seams that rasterised polygons (COCO) leave between neighbouring objects. Void (255)
pixels between two masks are bridged too (up to ``void_bridge_px`` of them), since VOC draws a void band along every
object outline, also between touching objects. These are the images where semantic masks alone cannot separate
instances: connected components merge them.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def _grow(mask: np.ndarray, steps: int, passable: np.ndarray | None = None) -> np.ndarray:
    """Dilate a bool mask ``steps`` times with the 3x3 cross; with ``passable``, only through those pixels."""
    m = mask.astype(np.uint8)
    for _ in range(steps):
        grown = cv2.dilate(m, _CROSS)
        if passable is not None:
            grown &= passable | m
        m = grown
    return m.astype(bool)


def touching_pairs(
    instances: dict[str, Any], void: np.ndarray | None = None, *, max_gap_px: int = 1, void_bridge_px: int = 8
) -> list[tuple[int, int]]:
    """Pairs of same-class GT instances that touch (see the module docstring).

    Args:
        instances: GT instances (``masks`` bool N x H x W, ``classes`` int N, optional ``crowd`` bool N).
        void: optional bool H x W void map (``semantic == 255``).
        max_gap_px: background pixels allowed between two touching masks (>= 0).
        void_bridge_px: additional void pixels allowed between them.

    Returns:
        Sorted list of index pairs ``(i, j)``, ``i < j``.
    """
    masks = np.asarray(instances["masks"]).astype(bool, copy=False)
    classes = np.asarray(instances["classes"]).reshape(-1)
    crowd = np.asarray(instances.get("crowd", np.zeros(len(classes), bool)), dtype=bool).reshape(-1)
    has_void = void is not None and bool(void.any())
    pairs: list[tuple[int, int]] = []
    for cls in np.unique(classes):
        idx = np.where((classes == cls) & ~crowd)[0]
        if len(idx) < 2:
            continue
        for a_pos, a in enumerate(idx[:-1]):
            grown = _grow(masks[a], max_gap_px + 1)
            if has_void and void_bridge_px > 0:
                reached = _grow(grown, void_bridge_px, passable=void.astype(np.uint8))
                grown = grown | _grow(reached & void, 1)  # one step from the void band onto the other mask
            for b in idx[a_pos + 1 :]:
                if np.logical_and(grown, masks[b]).any():
                    pairs.append((int(a), int(b)))
    return sorted(pairs)


def has_touching_instances(sample: dict[str, Any], *, max_gap_px: int = 1, void_bridge_px: int = 8) -> bool:
    """Whether a dataset sample holds at least two touching GT instances of one class.

    Args:
        sample: dataset sample with ``instances`` (None counts as False) and optionally ``semantic`` (255 = void).
        max_gap_px: see :func:`touching_pairs`.
        void_bridge_px: see :func:`touching_pairs`.
    """
    inst = sample.get("instances")
    if inst is None or len(inst["classes"]) < 2:
        return False
    sem = sample.get("semantic")
    void = None if sem is None else np.asarray(sem) == 255
    return bool(touching_pairs(inst, void, max_gap_px=max_gap_px, void_bridge_px=void_bridge_px))


def select_touching(dataset: Any, **kwargs: Any) -> list[int]:
    """Indices of the dataset samples with touching instances of one class (reads every sample once)."""
    return [i for i in range(len(dataset)) if has_touching_instances(dataset[i], **kwargs)]
