"""The instances dict (docs/ARCHITECTURE.md): the empty one, COCO RLE of its masks, and the image id of a results file.

One implementation of each, shared by the post-processing, the SAM assembly, the evaluators and the pseudo-label
writer, so that every results JSON encodes masks and image ids the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def empty_instances(height: int, width: int) -> dict[str, np.ndarray]:
    """An instances dict with no instance.

    Returns:
        ``{"masks": bool 0 x H x W, "classes": int64 (0,), "scores": float32 (0,)}``.
    """
    return {
        "masks": np.zeros((0, height, width), dtype=bool),
        "classes": np.zeros((0,), dtype=np.int64),
        "scores": np.zeros((0,), dtype=np.float32),
    }


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
