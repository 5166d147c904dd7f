"""What int8 costs in quality: float ONNX vs ``baiseg export --int8`` on the val splits (docs/SPEED.md "Int8").

    .venv/bin/python bench/int8_quality.py --out docs/results/int8_quality.json

For each trained model (Penn-Fudan, coco128 panoptic): export float and int8 ONNX (int8 calibrated on 16 images of
the model's own training split, as ``baiseg export --int8`` does by default), then ``baiseg evaluate`` both on the
val split with ground-truth and with the model's own semantics (VOC mAP^r at IoU 0.5 / 0.75, COCO AP). Also the
agreement of the boundary maps on the first val images (mean and max |difference| of the probabilities).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

if not __package__:  # run by its path: import the package ``bench`` (the repository root on sys.path only for that)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import bench  # noqa: F401
    del sys.path[0]
from bench import provenance  # noqa: E402
from bench.common import MODELS, evaluate_cmd, export_float_and_int8  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def boundary_agreement(a: Path, b: Path, data: str, n: int) -> dict:
    from baiseg.data import build_dataset
    from baiseg.predictor import Predictor

    ds = build_dataset(data)
    pa, pb = Predictor.from_pretrained(a), Predictor.from_pretrained(b)
    means, maxes, sem_max = [], [], []
    for i in range(min(n, len(ds))):
        img = pa.working_image(np.asarray(ds[i]["image"]))
        ma, mb = pa.infer(img), pb.infer(img)
        d = np.abs(ma["boundary_prob"] - mb["boundary_prob"])
        means.append(float(d.mean()))
        maxes.append(float(d.max()))
        sem_max.append(float(np.abs(ma["sem_prob"] - mb["sem_prob"]).max()))
    return {"images": len(means), "boundary_mean_abs": float(np.mean(means)), "boundary_max_abs": max(maxes),
            "semantic_max_abs": max(sem_max)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="pennfudan,coco128", help="comma-separated: " + ", ".join(MODELS))
    from baiseg.onnx_quant import CALIB_IMAGES

    ap.add_argument("--calib-images", type=int, default=CALIB_IMAGES)
    ap.add_argument("--agreement-images", type=int, default=10)
    ap.add_argument("--out", default=str(REPO / "docs/results/int8_quality.json"))
    args = ap.parse_args()
    prov = provenance.start()
    from baiseg.weights_io import read_weights_meta

    cache = REPO / ".cache" / "bench_onnx"
    report: dict = {"calib_images": args.calib_images, "models": {}}
    for name in args.models.split(","):
        weights, val = MODELS[name]
        weights = REPO / weights
        if not weights.is_file():
            print(f"{name}: {weights} missing, left out", flush=True)
            continue
        train = read_weights_meta(weights)["config"].data.train
        t0 = time.perf_counter()
        fp, q = export_float_and_int8(weights, cache, args.calib_images)
        entry: dict = {"weights": str(weights.relative_to(REPO)), "val": val, "calib_data": train,
                       "export_quantize_s": round(time.perf_counter() - t0, 1), "scores": {}}  # fmt: skip
        for backend, path in (("float", fp), ("int8", q)):
            for semantic in ("gt", "model"):
                s = evaluate_cmd(path, val, semantic)
                entry["scores"][f"{backend}/{semantic}"] = s
                print(f"{name} {backend} {semantic}: mAP50 {s['mAP50']:.1f} mAP75 {s['mAP75']:.1f} AP {s['AP']:.1f}",
                      flush=True)  # fmt: skip
        entry["agreement"] = boundary_agreement(fp, q, val, args.agreement_images)
        print(f"{name} agreement: {entry['agreement']}", flush=True)
        report["models"][name] = entry
    provenance.write_json(args.out, report, prov)


if __name__ == "__main__":
    main()
