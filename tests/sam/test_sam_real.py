"""The released MobileSAM weights on a real Penn-Fudan image (slow: run with ``-m slow``; skipped without weights)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
WEIGHTS = Path(os.environ.get("BAISEG_MOBILESAM_WEIGHTS", REPO / ".cache" / "mobilesam" / "mobile_sam.pt"))


@pytest.fixture(scope="module")
def mobilesam():
    pytest.importorskip("segment_anything")
    if not WEIGHTS.is_file():
        pytest.skip(f"{WEIGHTS} missing: bash ../shared/tools/fetch_mobilesam.sh .cache/mobilesam")
    from baiseg.sam import load_mobilesam

    return load_mobilesam(WEIGHTS)


def _pedestrians(shared_data: Path, stem: str) -> tuple[np.ndarray, np.ndarray]:
    """(RGB image, int instance ids) of one Penn-Fudan image."""
    root = shared_data / "PennFudanPed"
    if not (root / "PNGImages" / f"{stem}.png").is_file():
        pytest.skip("Penn-Fudan not in the shared data")
    image = cv2.imread(str(root / "PNGImages" / f"{stem}.png"))[:, :, ::-1].copy()
    ids = cv2.imread(str(root / "PedMasks" / f"{stem}_mask.png"), cv2.IMREAD_UNCHANGED).astype(np.int64)
    return image, ids


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


@pytest.mark.slow
def test_click_and_box_on_a_pedestrian(mobilesam, shared_data):
    from segment_anything import SamPredictor

    image, ids = _pedestrians(shared_data, "FudanPed00001")
    predictor = SamPredictor(mobilesam)
    predictor.set_image(image)
    for i in range(1, int(ids.max()) + 1):
        gt = ids == i
        dist = cv2.distanceTransform(gt.astype(np.uint8), cv2.DIST_L2, 5)
        y, x = np.unravel_index(int(dist.argmax()), dist.shape)
        masks, _, _ = predictor.predict(point_coords=np.array([[x, y]]), point_labels=np.array([1]))
        # one click is ambiguous (clothes / person / group): one of SAM's three answers is the pedestrian
        assert max(_iou(m, gt) for m in masks) > 0.7
        ys, xs = np.nonzero(gt)
        box = np.array([xs.min(), ys.min(), xs.max(), ys.max()])
        masks, _, _ = predictor.predict(box=box, multimask_output=False)
        assert _iou(masks[0], gt) > 0.7


@pytest.mark.slow
def test_sam_instances_with_ground_truth_semantics(mobilesam, shared_data):
    from baiseg.sam import sam_instances

    image, ids = _pedestrians(shared_data, "FudanPed00001")
    inst = sam_instances(image, (ids > 0).astype(np.uint8), model=mobilesam)
    assert (inst.masks.sum(0) <= 1).all() and (inst.classes == 1).all()
    for i in range(1, int(ids.max()) + 1):
        assert max(_iou(m, ids == i) for m in inst.masks) > 0.9
