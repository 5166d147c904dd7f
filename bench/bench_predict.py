"""Inference speed on the CPU: end-to-end ``baiseg predict`` per backend, the network alone, and the evaluators.

    .venv/bin/python bench/bench_predict.py --threads 2 --out docs/results/speed_predict.json

1. ``predict`` (all outputs written: results.json, instance / boundary / overlay PNGs) on coco128 val and Penn-Fudan
   val with the PyTorch weights, their float ONNX export and their int8 export (``baiseg export --int8``: calibrated
   on 16 images of the model's training split): images per second (wall time of the whole command, start-up
   included) and the busy seconds of each stage (read, network, MEP, write) summed over the images.
2. The network alone at 416x416 and 640x480 on ``--threads`` threads, PyTorch vs onnxruntime float and int8 (median
   of ``--repeats``).
3. The VOC mAP^r evaluator vs pycocotools' COCOeval (through ``COCOInstanceEvaluator``) on 1,449 synthetic
   VOC-size (500x375) images with the same ground truth and predictions.

Weights: ``runs/coco128_panoptic_lite0_s0-001/last.safetensors`` and ``runs/pennfudan_lite0_s0-001/last.safetensors``
(``--coco-weights`` / ``--pf-weights``); a dataset whose weights are missing is left out.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if not __package__:  # run by its path: import the package ``bench`` (the repository root on sys.path only for that)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import bench  # noqa: F401
    del sys.path[0]
from bench import provenance  # noqa: E402
from bench.common import MODELS, export_float_and_int8  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def predict_stats(weights: str, data: str, threads: int, workers: int, mep_workers: int, max_side: int = 1024,
                  mep_at: str = "image") -> dict:  # fmt: skip
    from baiseg.commands.predict import predict

    out = Path(tempfile.mkdtemp(prefix="bench_predict_"))
    try:
        args = argparse.Namespace(weights=weights, input=data, out=str(out / "o"), semantic_dir=None, split=None,
                                  device="cpu", workers=workers, mep_workers=mep_workers, threads=threads, batch=4,
                                  max_side=max_side, mep_at=mep_at, on_error="stop", overwrite=False, no_overlays=False,
                                  no_progress=True, overrides=[])  # fmt: skip
        s = predict(args)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {k: s[k] for k in ("images", "instances", "wall_s", "img_per_s", "read_s", "network_s", "mep_s",
                              "write_s")}  # fmt: skip


def forward_ms(weights: str, size: tuple[int, int], repeats: int) -> float:
    """Median ms of ``Predictor.infer`` (network, sigmoid / softmax at the image size) on a random H x W image."""
    from baiseg.predictor import Predictor

    pred = Predictor.from_pretrained(weights)
    img = np.random.default_rng(0).integers(0, 255, (*size, 3), dtype=np.uint8)
    pred.infer(img)
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        pred.infer(img)
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)) * 1000


def evaluator_speed(n: int = 1449, size: tuple[int, int] = (375, 500), seed: int = 0) -> dict:
    """Seconds of VOCInstanceEvaluator and COCOInstanceEvaluator (COCOeval) on the same synthetic data."""
    from baiseg.evaluation import VOCInstanceEvaluator
    from baiseg.evaluation.coco import COCOInstanceEvaluator
    from baiseg.instances import Instances

    rng = np.random.default_rng(seed)
    h, w = size
    k = 20
    pairs = []
    for i in range(n):
        m = int(rng.integers(1, 6))
        gt = np.zeros((m, h, w), bool)
        cls = rng.integers(1, k + 1, m)
        for j in range(m):
            y, x = int(rng.integers(0, h - 60)), int(rng.integers(0, w - 60))
            gt[j, y : y + int(rng.integers(30, 150)), x : x + int(rng.integers(30, 150))] = True
        pred_masks = np.roll(gt, int(rng.integers(-8, 9)), axis=2)
        extra = np.zeros((2, h, w), bool)
        extra[:, :40, :40] = True
        masks = np.concatenate([pred_masks, extra])
        pcls = np.concatenate([cls, rng.integers(1, k + 1, 2)])
        sem = np.zeros((h, w), np.uint8)
        sample = {"image_id": str(i), "semantic": sem,
                  "instances": {"masks": gt, "classes": cls.astype(np.int64), "crowd": np.zeros(m, bool)}}  # fmt: skip
        pred = Instances(masks, pcls.astype(np.int64), rng.random(len(pcls)).astype(np.float32))
        pairs.append((sample, pred))
    out = {"images": n, "size": [h, w]}
    for name, ev in (("voc_s", VOCInstanceEvaluator(k)), ("cocoeval_s", COCOInstanceEvaluator(k))):
        t0 = time.perf_counter()
        for s, p in pairs:
            ev.process(s, p)
        ev.evaluate()
        out[name] = time.perf_counter() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--mep-workers", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--coco-weights", default=str(REPO / MODELS["coco128"][0]))
    ap.add_argument("--pf-weights", default=str(REPO / MODELS["pennfudan"][0]))
    ap.add_argument("--skip-predict", action="store_true")
    ap.add_argument("--eval-only", action="store_true", help="only the evaluator comparison (part 3)")
    ap.add_argument("--out", default=str(REPO / "docs/results/speed_predict.json"))
    args = ap.parse_args()
    prov = provenance.start()
    import torch

    torch.set_num_threads(args.threads)
    report: dict = {"threads": args.threads, "workers": args.workers, "mep_workers": args.mep_workers,
                    "predict": {}}  # fmt: skip
    cache = REPO / ".cache" / "bench_onnx"
    runs = [("coco128_panoptic_val", args.coco_weights), ("pennfudan_val", args.pf_weights)]
    for data, weights in [] if args.eval_only else runs:
        if not Path(weights).is_file():
            print(f"{data}: weights {weights} missing, left out")
            continue
        onnx_path, int8_path = export_float_and_int8(weights, cache)
        backends = (("pytorch", weights), ("onnx", str(onnx_path)), ("onnx-int8", str(int8_path)))
        if data == runs[0][0]:
            for key, size in (("forward_416_ms", (416, 416)), ("forward_640x480_ms", (480, 640))):
                report[key] = {b: forward_ms(w, size, args.repeats) for b, w in backends}
                f = report[key]
                print(f"network at {size[1]}x{size[0]}, {args.threads} threads: " + ", ".join(
                    f"{b} {f[b]:.0f} ms ({f['pytorch'] / f[b]:.2f}x)" for b, _ in backends))  # fmt: skip
        if args.skip_predict:
            continue
        for backend, w in backends:
            s = predict_stats(w, data, args.threads, args.workers, args.mep_workers)
            report["predict"][f"{data}/{backend}"] = s
            print(f"{data} {backend}: {s['images']} images, {s['img_per_s']:.2f} img/s; busy s: read {s['read_s']:.1f}"
                  f", network {s['network_s']:.1f}, MEP {s['mep_s']:.1f}, write {s['write_s']:.1f}", flush=True)
    report["evaluator"] = evaluator_speed()
    e = report["evaluator"]
    print(f"evaluators on {e['images']} synthetic 500x375 images: VOC mAP^r {e['voc_s']:.1f} s, COCOeval "
          f"{e['cocoeval_s']:.1f} s")
    provenance.write_json(args.out, report, prov)


if __name__ == "__main__":
    main()
