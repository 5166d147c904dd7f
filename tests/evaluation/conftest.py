"""Hand-built evaluation cases shared by the evaluation tests, given to them as the ``ev`` fixture."""

from __future__ import annotations

import types

import numpy as np
import pytest

from baiseg.instances import Instances

H, W = 24, 32


def box(y0: int, x0: int, y1: int, x1: int, h: int = H, w: int = W) -> np.ndarray:
    """bool H x W mask of the half-open box [y0, y1) x [x0, x1)."""
    m = np.zeros((h, w), dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


def sample(masks, classes, crowd=None, void=None, image_id="img0", h: int = H, w: int = W) -> dict:
    """A dataset sample with instance GT (semantic map drawn from the masks, 255 where ``void``)."""
    masks = np.asarray(masks, dtype=bool).reshape(-1, h, w)
    classes = np.asarray(classes, dtype=np.int64).reshape(-1)
    sem = np.zeros((h, w), dtype=np.uint8)
    for m, c in zip(masks, classes):
        sem[m] = c
    if void is not None:
        sem[void] = 255
    crowd = np.zeros(len(classes), bool) if crowd is None else np.asarray(crowd, dtype=bool)
    return {
        "image": np.zeros((h, w, 3), np.uint8),
        "semantic": sem,
        "instances": {"masks": masks, "classes": classes, "crowd": crowd},
        "image_id": image_id,
        "path": f"{image_id}.png",
    }


def pred(masks, classes, scores, h: int = H, w: int = W) -> Instances:
    """Predicted instances (masks given as a list or array of H x W masks)."""
    return Instances(np.asarray(masks, dtype=bool).reshape(-1, h, w), classes, scores)


A = box(2, 2, 10, 10)  # 64 px
B = box(2, 14, 10, 22)  # 64 px, disjoint from A
C = box(14, 2, 22, 12)  # 80 px
FAR = box(14, 24, 20, 30)  # disjoint from all GT above


@pytest.fixture
def ev() -> types.SimpleNamespace:
    """The helpers and masks above (tests use --import-mode=importlib, so they cannot import this module)."""
    return types.SimpleNamespace(H=H, W=W, box=box, sample=sample, pred=pred, A=A, B=B, C=C, FAR=FAR)
