"""Produce the evaluation tables of docs/RESULTS.md for one dataset and one trained model.

For every method (cc, dtws, baiseg) x semantic source (gt, model) x subset (all, touching) this runs the same code as
``baiseg evaluate ... --json`` and collects the figures; it writes ``<out>/<name>.json`` (all figures + settings),
``<out>/<name>.md`` (markdown tables) and ``<out>/<name>_overlays.png`` (cc vs BAISeg on images with touching
instances of one class).

    .venv/bin/python bench/results.py --data pennfudan_val --weights runs/pennfudan_lite0-001/best.safetensors \
        --name pennfudan_val --out docs/results
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from baiseg.cli import main as baiseg_main
from baiseg.commands.demo import write_comparison_sheets
from baiseg.fileio import write_json_atomic, write_png_atomic, write_text_atomic

METHODS = ("cc", "dtws", "baiseg")
SEMANTICS = ("gt", "model")
SUBSETS = ("all", "touching")


def evaluate(data: str, weights: str, method: str, semantic: str, subset: str, out: Path, mep: list[str]) -> dict:
    # the baselines on ground-truth semantics need no network
    source = ["--weights", weights] if method == "baiseg" or semantic == "model" else []
    argv = ["evaluate", "--data", data, *source, "--method", method, "--semantic", semantic,
            "--subset", subset, "--json", "--out", str(out), "--device", "cpu", *mep]  # fmt: skip
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        status = baiseg_main(argv)
    if status != 0:
        raise SystemExit(f"evaluate failed ({status}): {' '.join(argv)}")
    m = json.loads((out / "metrics.json").read_text())
    m["wall_s"] = round(time.perf_counter() - t0, 1)
    return m


def markdown(rows: list[dict], subset: str) -> str:
    def f(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.1f}"

    lines = ["| method | semantics | images | mAP25 | mAP50 | mAP70 | mAP75 | COCO AP | AP50 | AP75 |",
             "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        if r["subset"] != subset:
            continue
        v, c = r["voc"], r["coco"]
        lines.append(f"| {r['method']} | {r['semantic']} | {r['images']} | " + " | ".join(
            f(x) for x in (v["mAP25"], v["mAP50"], v["mAP70"], v["mAP75"], c["AP"], c["AP50"], c["AP75"])) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="dataset YAML or shipped name")
    ap.add_argument("--weights", required=True, help="best.safetensors of a trained run")
    ap.add_argument("--name", required=True, help="output file stem")
    ap.add_argument("--out", default="docs/results", help="output folder")
    ap.add_argument("--sheets", type=int, default=4, help="overlay rows (images with touching instances)")
    ap.add_argument("mep", nargs="*", help="MEP overrides for every run, e.g. mep.boundary_thr=0.7")
    args = ap.parse_args(argv)
    out = Path(args.out)
    rows = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for subset in SUBSETS:
            for semantic in SEMANTICS:
                for method in METHODS:
                    m = evaluate(args.data, args.weights, method, semantic, subset, Path(tmp) / "e", args.mep)
                    rows.append({"method": method, "semantic": semantic, "subset": subset, "images": m["images"],
                                 "voc": m["voc"], "coco": m["coco"], "wall_s": m["wall_s"]})  # fmt: skip
                    print(f"{subset:8s} {semantic:5s} {method:6s} mAP50 {m['voc']['mAP50']} AP {m['coco']['AP']} "
                          f"({m['wall_s']} s)", file=sys.stderr)  # fmt: skip
        sheet_dir = Path(tmp) / "sheets"
        paths = write_comparison_sheets(args.data, Path(args.weights), sheet_dir, args.sheets, touching=True,
                                        mep=args.mep)
        if paths:
            from PIL import Image

            rows_img = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
            width = max(r.shape[1] for r in rows_img)
            padded = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows_img]
            write_png_atomic(out / f"{args.name}_overlays.png", np.concatenate(padded, axis=0))
    info = {"data": args.data, "weights": args.weights, "mep_overrides": args.mep, "rows": rows,
            "total_wall_s": round(time.perf_counter() - t0),
            "machine": f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} CPU cores",
            "command": " ".join(["bench/results.py", *(argv if argv is not None else sys.argv[1:])])}  # fmt: skip
    write_json_atomic(out / f"{args.name}.json", info, indent=2)
    md = (f"All images ({rows[0]['images']}):\n\n{markdown(rows, 'all')}\n\n"
          f"Images with touching instances of one class ({rows[-1]['images']}):\n\n{markdown(rows, 'touching')}\n")
    write_text_atomic(out / f"{args.name}.md", md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
