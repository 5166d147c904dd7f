"""Label maps of the MEP on the benchmark images, to check that a change keeps them (docs/SPEED.md).

    .venv/bin/python bench/mep_maps.py dump new.npz             # the current code
    PYTHONPATH=OLD_CHECKOUT .venv/bin/python bench/mep_maps.py dump old.npz   # another version of baiseg
    .venv/bin/python bench/mep_maps.py compare old.npz new.npz

``dump`` runs ``extract_masks`` on the 40 images of ``bench_mep.py`` (20 Penn-Fudan val + 20 coco128 val, realistic
boundary maps) at 500x375 and 1024x768 under the MEP configurations of ``CONFIGS``; ``compare`` counts identical maps
per configuration and, for the others, prints the changed pixels and the IoU of each changed mask with its best match.
"""

from __future__ import annotations

import argparse
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
from bench.bench_mep import coco_items, pennfudan_items, realistic_map, resized  # noqa: E402

CONFIGS = {  # name -> MEPConfig overrides
    "default": {},
    "refine=false": {"refine": False},
    "boundary_thr=0.5": {"boundary_thr": 0.5},
    "sure_fg_px=0": {"sure_fg_px": 0},
    "min_marker_px=16,min_area_px=64": {"min_marker_px": 16, "min_area_px": 64},
    "marker_source=boundary": {"marker_source": "boundary"},
    "no merging": {"merge_thr": 0.0, "merge_enclosed": False, "merge_neck_ratio": 0.0},
}
SIZES = ((500, 375), (1024, 768))


def dump(out: str) -> None:
    cv2.setNumThreads(1)
    items = pennfudan_items("val", 20) + coco_items("val", 20)
    maps = {}
    for w, h in SIZES:
        for i, item in enumerate(items):
            _, inst, sem = resized(item, (w, h))
            b = realistic_map(inst, seed=i)
            for name, kw in CONFIGS.items():
                maps[f"{w}x{h}|{i}|{name}"] = extract_masks(b, sem, cfg=MEPConfig(**kw))
    np.savez_compressed(out, **maps)
    print(f"wrote {len(maps)} label maps to {out}")


def compare(a_path: str, b_path: str) -> None:
    a, b = np.load(a_path), np.load(b_path)
    keys = sorted(set(a.files) & set(b.files))
    for name in CONFIGS:
        ks = [k for k in keys if k.endswith(f"|{name}")]
        diff = [k for k in ks if not np.array_equal(a[k], b[k])]
        print(f"{name}: {len(ks) - len(diff)}/{len(ks)} identical")
        for k in diff[:5]:
            x, y = a[k], b[k]
            ious = []
            for i in range(1, int(x.max()) + 1):
                m = x == i
                if not m.any() or np.array_equal(m, y == i):
                    continue
                j = int(np.bincount(y[m]).argmax())
                ious.append(round(float((m & (y == j)).sum() / (m | (y == j)).sum()), 3) if j else 0.0)
            print(f"  {k}: {int((x != y).sum())} pixels differ; IoU of the changed masks with their match {ious}")
        if len(diff) > 5:
            print(f"  ... and {len(diff) - 5} more")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("dump").add_argument("out")
    c = sub.add_parser("compare")
    c.add_argument("a")
    c.add_argument("b")
    args = ap.parse_args()
    dump(args.out) if args.cmd == "dump" else compare(args.a, args.b)


if __name__ == "__main__":
    main()
