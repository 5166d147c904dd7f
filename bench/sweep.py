"""Tune instance-step parameters on a TRAIN split (val stays untouched): one method, one semantic source, a grid.

The network runs once per image (maps cached under .cache/maps/); each grid point runs only the post-processing and
is scored with the VOC mAP^r evaluator on all images and on the images with touching instances of one class.
Instance labels are read for model selection only, never for training.

    .venv/bin/python bench/sweep.py --data pennfudan_train --method dtws --grid dtws_peak_frac=0.3,0.5,0.7
    .venv/bin/python bench/sweep.py --data pennfudan_train --weights W --method baiseg \\
        --grid merge_neck_ratio=0,1 marker_source=boundary,distance --out docs/results/tuning/pf_baiseg.json
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import cv2
import yaml

if not __package__:  # run by its path: import the package ``bench`` (the repository root on sys.path only for that)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import bench  # noqa: F401
    del sys.path[0]
from bench import provenance  # noqa: E402
from bench.common import Bench  # noqa: E402


def _line(row: dict) -> str:
    """mAP50 mAP75 on all images | on touching ones, 'n/a' where undefined (no image of that subset selected)."""
    def f(x: float | None) -> str:
        return "   n/a" if x is None else f"{x:6.2f}"

    a, t = row["all"], row["touching"]
    return f"{f(a['mAP50'])} {f(a['mAP75'])} | {f(t['mAP50'])} {f(t['mAP75'])}"


def parse_grid(items: list[str]) -> dict[str, list]:
    """``["k=v1,v2", ...]`` -> ``{k: [v1, v2]}`` (values parsed as YAML)."""
    return {k: [yaml.safe_load(v) for v in vals.split(",")] for k, vals in (g.split("=", 1) for g in items)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="a TRAIN dataset YAML or shipped name")
    ap.add_argument("--weights", default=None, help="trained weights (needed for baiseg or --semantic model)")
    ap.add_argument("--method", default="baiseg", choices=("baiseg", "cc", "dtws"))
    ap.add_argument("--semantic", default="gt", choices=("gt", "model"))
    ap.add_argument("--limit", type=int, default=0, help="first N images (0 = all)")
    ap.add_argument("--grid", nargs="*", default=[], metavar="KEY=V1,V2", help="MEP keys and values to try")
    ap.add_argument("--fixed", nargs="*", default=[], metavar="KEY=V", help="MEP keys held fixed")
    ap.add_argument("--out", default=None, help="JSON of every row")
    args = ap.parse_args(argv)
    prov = provenance.start(argv)
    cv2.setNumThreads(1)
    bench = Bench(args.data, args.weights, args.limit)
    grid, fixed = parse_grid(args.grid), {k: v[0] for k, v in parse_grid(args.fixed).items()}
    rows = []
    for values in itertools.product(*grid.values()):
        setting = {**fixed, **dict(zip(grid, values, strict=True))}
        t0 = time.perf_counter()
        res = bench.evaluate(args.method, args.semantic, bench.mep(**setting))
        row = {"setting": setting, "all": res["all"]["voc"], "touching": res["touching"]["voc"],
               "images": [res["all"]["images"], res["touching"]["images"]],
               "wall_s": round(time.perf_counter() - t0, 1)}  # fmt: skip
        rows.append(row)
        print(f"{_line(row)}  {setting}", flush=True)
    rows.sort(key=lambda r: -(r["all"]["mAP50"] or 0) - (r["touching"]["mAP50"] or 0))
    print(f"\n{args.data} ({rows[0]['images'][0]} images, {rows[0]['images'][1]} touching), {args.method}, "
          f"{args.semantic} semantics; mAP50 mAP75 all | touching; best (all + touching mAP50) first:")
    for r in rows[:5]:
        print(f"{_line(r)}  {r['setting']}")
    if args.out:
        provenance.write_json(args.out, {"data": args.data, "weights": args.weights, "method": args.method,
                                         "semantic": args.semantic, "limit": args.limit, "rows": rows,
                                         "command": " ".join(["bench/sweep.py", *(argv or sys.argv[1:])])}, prov)
    return 0


if __name__ == "__main__":
    sys.exit(main())
