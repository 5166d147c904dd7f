"""Tune MEP defaults on TRAIN images (Penn-Fudan train split + coco128 train) with realistic boundary maps.

    .venv/bin/python bench/tune_mep.py --images 15

For each setting of a small grid, runs ``instances_from_semantic("baiseg", ...)`` on the realistic maps of
bench_mep.py (ground-truth semantics) and prints the class-agnostic F1 at IoU 0.5 against the ground-truth instances
and the mean IoU of matched instances, best first. Only train images are used; val stays untouched.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
from pathlib import Path

import cv2
import numpy as np

if not __package__:  # run by its path: import the package ``bench`` (the repository root on sys.path only for that)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import bench  # noqa: F401
    del sys.path[0]
from baiseg.config import MEPConfig  # noqa: E402
from baiseg.postprocess import extract_masks  # noqa: E402
from bench.bench_mep import coco_items, matched_iou, pennfudan_items, realistic_map  # noqa: E402

GRID = {
    "boundary_thr": [0.3, 0.4, 0.5],
    "boundary_dilate_px": [0, 1, 2],
    "min_marker_px": [16, 32],
    "watershed_on": ["boundary", "image"],
}


def score(cfg: MEPConfig, data: list) -> tuple[float, float]:
    tp = n_gt = n_pred = 0
    ious = []
    for img, inst, sem, b in data:
        labels = extract_masks(b, sem, img, cfg)
        iou, n = matched_iou(inst, labels)
        hits = [v for v in iou if v >= 0.5]
        tp, n_gt, n_pred = tp + len(hits), n_gt + n, n_pred + int(labels.max())
        ious += hits
    f1 = 2 * tp / max(n_gt + n_pred, 1)
    return f1, float(np.mean(ious)) if ious else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=12, help="train images per dataset")
    ap.add_argument("--defaults-only", action="store_true", help="only score the defaults (boundary vs image)")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    items = pennfudan_items("train", args.images) + coco_items("train", args.images)
    data = []
    for i, (img, inst, sem) in enumerate(items):
        inst = np.where(sem == 255, 0, inst)
        data.append((img, inst, sem, realistic_map(inst, seed=1000 + i)))
    rows = []
    for values in [] if args.defaults_only else itertools.product(*GRID.values()):
        cfg = dataclasses.replace(MEPConfig(), **dict(zip(GRID, values, strict=True)))
        rows.append((*score(cfg, data), dict(zip(GRID, values, strict=True))))
    rows.sort(key=lambda r: -r[0])
    print(f"{len(data)} train images; F1@0.5 (class-agnostic), mean IoU of matched, setting")
    for f1, miou, setting in rows[:12]:
        print(f"{f1:.3f} {miou:.3f} {setting}")
    print(f"default: {score(MEPConfig(), data)}")
    print(f"default, watershed_on=image: {score(MEPConfig(watershed_on='image'), data)}")


if __name__ == "__main__":
    main()
