"""MEP speed on one CPU thread and agreement with the fair scikit-image reference (reference_mep_skimage.py: the same
stages, crops and parameters), on realistic boundary maps; both timed as the median of ``--repeats`` runs per image.

Realistic maps: the instance contours of real masks (Penn-Fudan PedMasks, coco128 panoptic PNGs; the boundary
between touching instances is included), resized to the benchmark size, blurred (Gaussian, sigma 1.5 px), weakened
by a smooth random field (0.5-1.0, gaps of weak response) and noised (Gaussian, std 0.05). Semantic map = the
ground-truth classes.

    .venv/bin/python bench/bench_mep.py --images 20 --repeats 3

Prints per size: median ms of ``extract_masks`` and of the reference, the speed-up, and the mean IoU of matched
masks (each reference mask matched to our mask of highest IoU) with the share of reference masks matched (IoU >= 0.5).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

if not __package__:  # run by its path: import the package ``bench`` (the repository root on sys.path only for that)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import bench  # noqa: F401
    del sys.path[0]
from baiseg.config import MEPConfig  # noqa: E402
from baiseg.postprocess import extract_masks, kernels, labels, markers  # noqa: E402
from bench import provenance  # noqa: E402
from bench.reference_mep_skimage import extract_masks_reference  # noqa: E402

DATA = Path(os.environ.get("BAISEG_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
REPO = Path(__file__).resolve().parents[1]


def pennfudan_items(split: str, limit: int | None = None) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(image RGB, instance ids, semantic) of the Penn-Fudan split listed in baiseg/configs/datasets (first
    ``limit`` images; None: all)."""
    lines = (REPO / "baiseg/configs/datasets" / f"pennfudan_{split}.txt").read_text().splitlines()
    stems = [s.strip() for s in lines if s.strip() and not s.startswith("#")][:limit]
    out = []
    for s in stems:
        img = cv2.imread(str(DATA / "PennFudanPed/PNGImages" / f"{s}.png"))[:, :, ::-1]
        inst = cv2.imread(str(DATA / "PennFudanPed/PedMasks" / f"{s}_mask.png"), cv2.IMREAD_UNCHANGED).astype(np.int32)
        out.append((img, inst, (inst > 0).astype(np.uint8)))
    return out


def coco_items(split: str, limit: int | None = None) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(image RGB, instance ids, semantic) of coco128 panoptic ``split`` (train|val; first ``limit`` images, None:
    all); crowd = void, stuff = 0."""
    root = DATA / "coco128_lightly"
    ann = json.loads((root / f"panoptic_segmentation/annotations/panoptic_{split}2017.json").read_text())
    things = sorted(c["id"] for c in ann["categories"] if c["isthing"])
    sem_of = {c: i + 1 for i, c in enumerate(things)}
    out = []
    for a in ann["annotations"][:limit]:
        png = cv2.imread(str(root / f"panoptic_segmentation/annotations/panoptic_{split}2017" / a["file_name"]))
        png = png.astype(np.int64)
        ids = png[:, :, 2] + 256 * png[:, :, 1] + 65536 * png[:, :, 0]
        img = cv2.imread(str(root / f"images/{split}2017" / a["file_name"].replace(".png", ".jpg")))[:, :, ::-1]
        inst = np.zeros(ids.shape, np.int32)
        sem = np.zeros(ids.shape, np.uint8)
        k = 0
        for seg in a["segments_info"]:
            m = ids == seg["id"]
            if seg["category_id"] not in sem_of:
                continue
            if seg.get("iscrowd"):
                sem[m] = 255
                continue
            k += 1
            inst[m], sem[m] = k, sem_of[seg["category_id"]]
        out.append((img, inst, sem))
    return out


def realistic_map(inst: np.ndarray, seed: int) -> np.ndarray:
    """float32 boundary probability map from instance ids (see the module docstring)."""
    rng = np.random.default_rng(seed)
    e = np.zeros(inst.shape, bool)
    e[:, 1:] |= inst[:, 1:] != inst[:, :-1]
    e[:, :-1] |= inst[:, 1:] != inst[:, :-1]
    e[1:] |= inst[1:] != inst[:-1]
    e[:-1] |= inst[1:] != inst[:-1]
    b = cv2.GaussianBlur(e.astype(np.float32), (0, 0), 1.5)
    b /= max(float(b.max()), 1e-6)
    h, w = inst.shape
    field = cv2.resize(rng.random((max(h // 32, 2), max(w // 32, 2))).astype(np.float32), (w, h), cv2.INTER_CUBIC)
    b *= 0.5 + 0.5 * np.clip(field, 0, 1)
    b += rng.normal(0, 0.05, b.shape).astype(np.float32)
    return np.clip(b, 0, 1).astype(np.float32)


def resized(item: tuple, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    img, inst, sem = item
    w, h = size
    return (
        cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA),
        cv2.resize(inst.astype(np.float32), (w, h), interpolation=cv2.INTER_NEAREST).astype(np.int32),
        cv2.resize(sem, (w, h), interpolation=cv2.INTER_NEAREST),
    )


def matched_iou(ref: np.ndarray, ours: np.ndarray) -> tuple[list[float], int]:
    """IoU of each reference mask with its best-overlapping mask of ours; and the number of reference masks."""
    n_r, n_o = int(ref.max()), int(ours.max())
    if n_r == 0:
        return [], 0
    inter = np.bincount((ref.astype(np.int64) * (n_o + 1) + ours).ravel(), minlength=(n_r + 1) * (n_o + 1))
    inter = inter.reshape(n_r + 1, n_o + 1)[1:, 1:].astype(np.float64)
    a_r = np.bincount(ref.ravel(), minlength=n_r + 1)[1:]
    a_o = np.bincount(ours.ravel(), minlength=n_o + 1)[1:]
    if n_o == 0:
        return [0.0] * n_r, n_r
    iou = inter / (a_r[:, None] + a_o[None, :] - inter)
    return list(iou.max(1)), n_r


def timed(fn, repeats: int) -> float:
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=20, help="val images per dataset")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", default="500x375,1024x768")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    ap.add_argument("mep", nargs="*", metavar="KEY=VALUE", help="MEP settings, e.g. marker_band=0")
    args = ap.parse_args()
    prov = provenance.start()
    cv2.setNumThreads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    items = pennfudan_items("val", args.images) + coco_items("val", args.images)
    import yaml

    cfg = MEPConfig(**{k: yaml.safe_load(v) for k, v in (kv.split("=", 1) for kv in args.mep)})
    print(f"{len(items)} images (Penn-Fudan val + coco128 val), one thread, median of {args.repeats} runs per image "
          "for both implementations")
    report: dict[str, dict] = {}
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.split("x"))
        ours_ms, ref_ms, py_ms, ious, n_ref, n_hit, same = [], [], [], [], 0, 0, 0
        edt_ms, cv_edt_ms = [], []
        for i, item in enumerate(items):
            _, inst, sem = resized(item, (w, h))
            b = realistic_map(inst, seed=i)
            fg = labels.foreground(sem).view(np.uint8)  # the distance transform alone, on the whole foreground
            if kernels.USE_C_KERNELS:
                edt_ms.append(timed(lambda fg=fg: markers.exact_distance(fg), args.repeats))
            cv_edt_ms.append(timed(lambda fg=fg: cv2.distanceTransform(fg, cv2.DIST_L2, cv2.DIST_MASK_PRECISE),
                                   args.repeats))  # fmt: skip
            ours_ms.append(timed(lambda b=b, sem=sem: extract_masks(b, sem, cfg=cfg), args.repeats))
            if kernels.USE_C_KERNELS:  # the NumPy/OpenCV fallback of the C kernels (no compiler at install)
                fast = extract_masks(b, sem, cfg=cfg)
                kernels.USE_C_KERNELS = False
                try:
                    py_ms.append(timed(lambda b=b, sem=sem: extract_masks(b, sem, cfg=cfg), args.repeats))
                    same += int(np.array_equal(fast, extract_masks(b, sem, cfg=cfg)))
                finally:
                    kernels.USE_C_KERNELS = True
            ref_ms.append(timed(lambda b=b, sem=sem: extract_masks_reference(b, sem, cfg), args.repeats))
            iou, n = matched_iou(extract_masks_reference(b, sem, cfg), extract_masks(b, sem, cfg=cfg))
            ious += [v for v in iou if v >= 0.5]
            n_ref, n_hit = n_ref + n, n_hit + sum(v >= 0.5 for v in iou)
        o, r = float(np.median(ours_ms)), float(np.median(ref_ms))
        report[size] = {"ours_median_ms": o, "ours_p90_ms": float(np.percentile(ours_ms, 90)), "reference_median_ms": r,
                        "speedup": r / o, "matched_mean_iou": float(np.mean(ious)) if ious else 0.0,
                        "matched": int(n_hit), "reference_masks": int(n_ref), "c_kernels": bool(py_ms),
                        "fallback_median_ms": float(np.median(py_ms)) if py_ms else None,
                        "fallback_identical_maps": same if py_ms else None,
                        "distance_transform_ms": float(np.median(edt_ms)) if edt_ms else None,
                        "opencv_distance_transform_ms": float(np.median(cv_edt_ms))}  # fmt: skip
        print(
            f"{w}x{h}: ours {o:.2f} ms (p90 {np.percentile(ours_ms, 90):.2f}), skimage reference {r:.2f} ms, "
            f"speed-up {r / o:.1f}x, mean IoU of matched masks {np.mean(ious):.3f} "
            f"({n_hit}/{n_ref} reference masks matched at IoU>=0.5)"
        )
        if edt_ms:
            print(f"  exact distance transform of the foreground: C {np.median(edt_ms):.2f} ms, OpenCV "
                  f"DIST_MASK_PRECISE {np.median(cv_edt_ms):.2f} ms")
        if py_ms:
            print(f"  without the C kernels (NumPy/OpenCV fallback): {np.median(py_ms):.2f} ms, identical label maps "
                  f"on {same}/{len(items)} images")
    if args.json:
        provenance.write_json(args.json, {"images": len(items), "repeats": args.repeats, "mep": args.mep,
                                          "sizes": report}, prov)  # fmt: skip


if __name__ == "__main__":
    main()
