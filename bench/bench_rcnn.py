"""Mask R-CNN inference speed (the refinement model): images per second of ``Predictor.predict_instances`` on CPU.

    .venv/bin/python bench/bench_rcnn.py --weights runs/refine/rcnn_pennfudan_baiseg_s0-001/last.safetensors \
        --threads 2 --out docs/results/speed_rcnn.json

Images: the first ``--images`` of coco128 val resized to 500x375 (the issue's ~500x375 working size) and of Penn-Fudan
val at their own size. Timing rule: one warm-up pass, then the median over ``--repeats`` passes of the per-image time
(network + thresholding masks at the image size), single process, ``torch.set_num_threads(--threads)``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

if not __package__:  # run by its path: import the package ``bench`` (the repository root on sys.path only for that)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import bench  # noqa: F401
    del sys.path[0]
from bench import provenance  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None, help="Mask R-CNN weights (default: maskrcnn_lite0, random heads)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=None, help="JSON file for the figures")
    args = ap.parse_args()
    prov = provenance.start()
    torch.set_num_threads(args.threads)
    from baiseg.data import build_dataset
    from baiseg.predictor import Predictor

    if args.weights:
        pred = Predictor.from_pretrained(args.weights)
    else:
        from baiseg.config import load_config, resolve_preset
        from baiseg.models import build_model
        from baiseg.rcnn_predictor import MaskRCNNPredictor

        cfg = load_config(resolve_preset("maskrcnn_lite0"), ["model.num_classes=2"])
        pred = MaskRCNNPredictor(build_model(cfg.model), ["person"])
    sets = {}
    coco = build_dataset("coco128_panoptic_val", load_instances=False)
    sets["coco128_val_500x375"] = [cv2.resize(coco[i]["image"], (500, 375), interpolation=cv2.INTER_AREA)
                                   for i in range(min(args.images, len(coco)))]
    pf = build_dataset("pennfudan_val", load_instances=False)
    sets["pennfudan_val"] = [pf[i]["image"] for i in range(min(args.images, len(pf)))]
    report = {"weights": args.weights, "threads": args.threads, "repeats": args.repeats, "sets": {}}
    for name, images in sets.items():
        for im in images[:2]:
            pred.predict_instances(im)  # warm-up
        per_image = []
        for im in images:
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                pred.predict_instances(im)
                times.append(time.perf_counter() - t0)
            per_image.append(statistics.median(times))
        sizes = sorted({f"{im.shape[1]}x{im.shape[0]}" for im in images})
        report["sets"][name] = {"images": len(images), "sizes": sizes[:5],
                                "median_s": round(float(np.median(per_image)), 4),
                                "mean_s": round(float(np.mean(per_image)), 4),
                                "images_per_s": round(1.0 / float(np.mean(per_image)), 2)}
        print(f"{name}: {report['sets'][name]}")
    if args.out:
        provenance.write_json(args.out, report, prov, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
