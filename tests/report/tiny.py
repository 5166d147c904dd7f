"""Tiny report inputs built by hand: an evaluate folder whose per-image errors are known, a training run folder.

``make_evaluation`` predicts from the ground truth of a 4-image synthetic dataset: image 0 exactly (no error), image 1
with every instance dropped (all missed: the worst image), image 2 with one instance cut in two halves (one split),
image 3 with two instances of one class joined (one merged) when it has such a pair, else exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from baiseg.data import build_dataset
from baiseg.instances import Instances, coco_image_id, encode_rle

WORST = 1  # index of the image with the most errors


def dataset_yaml(folder: Path, num_images: int = 4) -> Path:
    """A synthetic dataset description (96 px images, 3 classes)."""
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "syn.yaml"
    p.write_text(f"format: synthetic\nnum_images: {num_images}\nsize: 96\nseed: 5\n")
    return p


def _halves(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.nonzero(mask)
    cut = int(np.median(xs))
    left = mask.copy()
    left[:, cut:] = False
    return left, mask & ~left


def predictions_for(i: int, gt: dict) -> Instances:
    """The made-up predictions of image ``i`` (see the module docstring)."""
    masks, classes = list(np.asarray(gt["masks"], bool)), list(np.asarray(gt["classes"]))
    if i == WORST:
        masks, classes = [], []
    elif i == 2 and masks:
        k = int(np.argmax([m.sum() for m in masks]))
        a, b = _halves(masks[k])
        masks[k:k + 1], classes[k:k + 1] = [a, b], [classes[k], classes[k]]
    elif i == 3:
        pair = next(((j, k) for j in range(len(masks)) for k in range(j + 1, len(masks))
                     if classes[j] == classes[k]), None)  # fmt: skip
        if pair is not None:
            j, k = pair
            masks[j] = masks[j] | masks[k]
            del masks[k], classes[k]
    h, w = np.asarray(gt["masks"]).shape[1:]
    return Instances(np.array(masks, bool).reshape(-1, h, w), np.array(classes, np.int64),
                     np.linspace(0.9, 0.5, len(masks)).astype(np.float32))


def make_evaluation(folder: Path, data: Path, method: str = "made-up", boundary: bool = True) -> Path:
    """An evaluate output folder (metrics.json, results.json, boundary/ and semantic/ PNGs) for ``data``."""
    ds = build_dataset(str(data))
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for i in range(len(ds)):
        s = ds[i]
        inst = predictions_for(i, s["instances"])
        cats = [int(ds.category_ids[int(c) - 1]) for c in inst.classes]
        results += [{"image_id": coco_image_id(str(s["image_id"])), "category_id": c, "segmentation": rle,
                     "score": float(sc)} for rle, c, sc in zip(encode_rle(inst.masks), cats, inst.scores)]
        if boundary:
            (folder / "boundary").mkdir(exist_ok=True)
            (folder / "semantic").mkdir(exist_ok=True)
            edge = cv2.Canny(s["semantic"].astype(np.uint8) * 60, 10, 20)
            cv2.imwrite(str(folder / "boundary" / f"{s['image_id']}.png"), edge)
            cv2.imwrite(str(folder / "semantic" / f"{s['image_id']}.png"), s["semantic"].astype(np.uint8))
    (folder / "results.json").write_text(json.dumps(results))
    metrics = {"voc": {"mAP25": 80.0, "mAP50": 70.0, "mAP70": 60.0, "mAP75": 55.5}, "coco": {"AP": 50.0, "AP50": 70.0,
               "AP75": 52.0}, "images": len(ds), "per_class": {n: {"mAP50": 66.0, "coco_AP": 44.0}
               for n in ds.class_names}, "settings": {"data": str(data), "split": None, "method": method,
               "semantic": "gt", "subset": "all", "limit": 0, "weights": None, "predictions": None}}  # fmt: skip
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


def make_run(folder: Path, iters: int = 100, val_every: int = 50) -> Path:
    """A training run folder: metrics.csv, config.yaml, run.json and val_images/<iteration>/<id>.png."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["iteration,lr,loss,loss_sem,val_map50"]
    for it in range(10, iters + 1, 10):
        val = f"{it / iters:.3f}" if it % val_every == 0 else ""
        lines.append(f"{it},{1e-3 * (1 - it / iters):.6f},{3.0 / it:.4f},{1.0 / it:.4f},{val}")
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")
    (folder / "config.yaml").write_text("train:\n  iters: 100\n  val_images: 2\n")
    (folder / "run.json").write_text(json.dumps({"seed": 0, "command": ["baiseg", "train"]}))
    for it in range(val_every, iters + 1, val_every):
        d = folder / "val_images" / f"{it:06d}"
        d.mkdir(parents=True)
        for k in range(2):
            cv2.imwrite(str(d / f"img{k}.png"), np.full((40, 60), 40 * k + it, np.uint8))
    return folder
