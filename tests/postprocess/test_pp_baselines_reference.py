"""The baselines against an independent scikit-image implementation, on real Penn-Fudan masks (fair baselines, issue
9): the same instances (matched IoU), and the area ranking (larger instance, higher score)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from baiseg.config import MEPConfig
from baiseg.postprocess import instances_from_semantic


def _reference_dtws(semantic: np.ndarray, peak_frac: float) -> np.ndarray:
    """scikit-image only: scipy's exact Euclidean distance, seeds at ``peak_frac`` of each component's peak distance,
    exact watershed of the negated distance inside the region. int H x W labels."""
    from scipy import ndimage as ndi
    from skimage.measure import label
    from skimage.segmentation import watershed

    region = semantic == 1
    comp = label(region, connectivity=2)
    dist = ndi.distance_transform_edt(region)
    peak = ndi.maximum(dist, comp, index=np.arange(comp.max() + 1))
    peak = np.asarray(peak)
    seeds = label((dist > peak_frac * peak[comp]) & region, connectivity=2)
    return watershed(-dist, seeds, mask=region)


def _masks(labels: np.ndarray, min_area: int) -> list[np.ndarray]:
    out = [labels == i for i in range(1, int(labels.max()) + 1)]
    return [m for m in out if m.sum() >= min_area]


def _matched_iou(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """Pixel-weighted mean IoU of each mask of ``a`` with its best match in ``b`` (0 for an unmatched mask)."""
    total, weight = 0.0, 0
    for m in a:
        best = max((np.logical_and(m, o).sum() / np.logical_or(m, o).sum() for o in b), default=0.0)
        total += best * m.sum()
        weight += int(m.sum())
    return total / max(weight, 1)


def _pennfudan_semantics(root, n: int) -> list[np.ndarray]:
    files = sorted((root / "PennFudanPed" / "PedMasks").glob("*.png"))
    sems = []
    for f in files:
        inst = np.asarray(Image.open(f))
        if inst.max() >= 2:  # images with several pedestrians: where dtws has something to split
            sems.append((inst > 0).astype(np.uint8))
        if len(sems) == n:
            break
    return sems


def test_dtws_matches_skimage_reference_on_real_masks(shared_data) -> None:
    sems = _pennfudan_semantics(shared_data, 12)
    assert len(sems) == 12
    cfg = MEPConfig(dtws_peak_frac=0.5, dtws_min_area_px=64)
    ious = []
    for sem in sems:
        ours = list(instances_from_semantic("dtws", sem, cfg=cfg).masks)
        ref = _masks(_reference_dtws(sem, 0.5), 64)
        assert abs(len(ours) - len(ref)) <= 1
        ious.append(min(_matched_iou(ours, ref), _matched_iou(ref, ours)))
    assert np.mean(ious) > 0.97, ious
    assert min(ious) > 0.9, ious


def test_cc_matches_skimage_label_on_real_masks(shared_data) -> None:
    from skimage.measure import label

    for sem in _pennfudan_semantics(shared_data, 8):
        ours = list(instances_from_semantic("cc", sem, cfg=MEPConfig(cc_min_area_px=64)).masks)
        ref = _masks(label(sem == 1, connectivity=2), 64)
        assert len(ours) == len(ref)
        assert _matched_iou(ours, ref) == pytest.approx(1.0)


@pytest.mark.parametrize("method", ["cc", "dtws"])
def test_baselines_rank_by_area(shared_data, method: str) -> None:
    """Scores strictly follow the area, even for large masks (the old size prior saturated to exactly 1)."""
    for sem in _pennfudan_semantics(shared_data, 6):
        inst = instances_from_semantic(method, sem)
        area = inst.masks.sum((1, 2))
        assert np.all(np.diff(area) <= 0), (area, inst.scores)
        distinct = area[:-1] > area[1:]
        assert np.all(inst.scores[:-1][distinct] > inst.scores[1:][distinct])
        assert np.all(inst.scores < 1.0)
