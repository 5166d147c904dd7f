"""Tune MEP parameters on a trained model's boundary maps, on TRAIN images only (val stays untouched).

The network runs once per image (its boundary maps are cached); each grid point then runs only the MEP with
ground-truth semantics and is scored with the VOC mAP^r evaluator (mAP50, then mAP75) against the train split's
instance ground truth. Instance labels are read here for model selection only, never for training.

    .venv/bin/python bench/tune_mep_model.py --data pennfudan_train \
        --weights runs/pennfudan_lite0-001/best.safetensors --limit 60
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys

import cv2
import numpy as np
import yaml
from tqdm import tqdm

from baiseg.data import build_dataset
from baiseg.evaluation import VOCInstanceEvaluator
from baiseg.postprocess import instances_from_semantic
from baiseg.predictor import Predictor

GRID = {
    "boundary_thr": [0.3, 0.5, 0.6, 0.7, 0.8, 0.9],
    "boundary_dilate_px": [1, 2],
    "sure_fg": [False, True],
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="a TRAIN dataset YAML or shipped name")
    ap.add_argument("--weights", required=True)
    ap.add_argument("--limit", type=int, default=60, help="images used (0 = all)")
    ap.add_argument("--grid", nargs="*", default=[], metavar="KEY=V1,V2",
                    help="replace the grid, e.g. boundary_thr=0.7,0.8 min_marker_px=16,64 (values parsed as YAML)")
    args = ap.parse_args(argv)
    grid = dict(GRID)
    if args.grid:
        grid = {k: [yaml.safe_load(v) for v in vals.split(",")] for k, vals in (g.split("=", 1) for g in args.grid)}
    cv2.setNumThreads(1)
    ds = build_dataset(args.data)
    pred = Predictor.from_pretrained(args.weights).for_classes(list(ds.class_names), list(ds.category_ids))
    n = len(ds) if args.limit <= 0 else min(args.limit, len(ds))
    cache = []
    for i in tqdm(range(n), desc="boundary maps", leave=False, disable=None):
        s = ds[i]
        maps = pred.infer(s["image"])
        cache.append((s, maps["boundary_prob"]))
    rows = []
    for values in itertools.product(*grid.values()):
        cfg = dataclasses.replace(pred.mep, **dict(zip(grid, values, strict=True)))
        ev = VOCInstanceEvaluator(num_classes=len(ds.class_names), class_names=list(ds.class_names))
        for s, b in cache:
            inst = instances_from_semantic("baiseg", s["semantic"], boundary_prob=b, image=s["image"], cfg=cfg)
            ev.process(s, inst)
        r = ev.evaluate()
        rows.append((r["mAP50"], r["mAP75"], dict(zip(grid, values, strict=True))))
    rows.sort(key=lambda r: (-np.nan_to_num(r[0]), -np.nan_to_num(r[1])))
    print(f"{n} images of {args.data}; GT semantics; mAP50 mAP75 setting (best first)")
    for m50, m75, setting in rows:
        print(f"{100 * m50:5.1f} {100 * m75:5.1f} {setting}")
    print(f"stored with the weights: {dict((k, getattr(pred.mep, k)) for k in grid)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
