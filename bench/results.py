"""The result tables of docs/RESULTS.md for one dataset: every method x semantic source x subset, over several
trained models (training seeds), as mean and spread.

Rows: the fair baselines ``cc`` and ``dtws`` (parameters tuned on the train split, area ranking), BAISeg with the
issue-6 MEP (config.PAPER_MEP: no merging), BAISeg (current defaults), BAISeg ranked by boundary evidence instead of
area, each with ground-truth (``gt``)
and with the model's own (``model``) semantics. The network runs once per image and model (maps cached under
.cache/maps/); figures come from the library evaluators (VOC mAP^r, COCO AP via pycocotools), in percent.

    .venv/bin/python bench/results.py --data pennfudan_val --weights runs/pennfudan_lite0_s0-001/last.safetensors \\
        runs/pennfudan_lite0_s1-001/last.safetensors --name pennfudan_val --out docs/results
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import yaml

if not __package__:  # run by its path: import the package ``bench`` (the repository root on sys.path only for that)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import bench  # noqa: F401
    del sys.path[0]
from baiseg.config import PAPER_MEP  # noqa: E402
from baiseg.evaluation.run import COCO_KEYS, VOC_KEYS  # noqa: E402
from baiseg.fileio import write_text_atomic  # noqa: E402
from bench import provenance  # noqa: E402
from bench.common import Bench  # noqa: E402

# (label, method, MEP changes from the library defaults)
VARIANTS = [
    ("cc", "cc", {}),
    ("dtws", "dtws", {}),
    ("BAISeg, issue-6 MEP", "baiseg", dict(PAPER_MEP)),
    ("BAISeg, fixed thresholds (defaults before issue 20)", "baiseg", {"adapt_ref": 0.0, "marker_band": 0.0}),
    ("BAISeg", "baiseg", {}),
    ("BAISeg, ranked by boundary evidence", "baiseg", {"score_rule": "evidence"}),
]
KEYS = [("voc", k) for k in VOC_KEYS] + [("coco", k) for k in COCO_KEYS]


def summarise(values: list[float | None]) -> dict:
    v = [x for x in values if x is not None]
    if not v:
        return {"mean": None, "spread": None, "runs": values}
    return {"mean": round(float(np.mean(v)), 2), "spread": round((max(v) - min(v)) / 2, 2), "runs": values}


def run_variant(benches: list[Bench], label: str, method: str, semantic: str, changes: dict) -> list[dict]:
    """One row per subset: figures per model (a single run where the method ignores the model)."""
    runs = {"all": [], "touching": []}
    uses_model = method == "baiseg" or semantic == "model"
    for b in benches if uses_model else benches[:1]:
        res = b.evaluate(method, semantic, b.mep(**changes), coco=True)
        for subset in runs:
            runs[subset].append(res[subset])
    rows = []
    for subset, rs in runs.items():
        row = {"variant": label, "method": method, "semantic": semantic, "subset": subset, "mep": changes,
               "images": rs[0]["images"], "models": len(rs)}  # fmt: skip
        for group, key in KEYS:
            row[key if group == "voc" else f"coco_{key}"] = summarise([r[group][key] for r in rs])
        rows.append(row)
    return rows


def markdown(rows: list[dict], subset: str) -> str:
    def f(s: dict) -> str:
        if s["mean"] is None:
            return "n/a"
        return f"{s['mean']:.1f}" if s["spread"] in (None, 0) and len(s["runs"]) == 1 else \
            f"{s['mean']:.1f} ± {s['spread']:.1f}"

    cols = [k for _, k in KEYS]
    lines = ["| method | semantics | models | " + " | ".join(c if c.startswith("mAP") else f"COCO {c}" for c in cols)
             + " |", "|---|---|---|" + "---|" * len(cols)]  # fmt: skip
    for r in rows:
        if r["subset"] == subset:
            vals = [f(r[k]) if k.startswith("mAP") else f(r[f"coco_{k}"]) for k in cols]
            lines.append(f"| {r['variant']} | {r['semantic']} | {r['models']} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def write_sheet(data: str, weights: str, path: Path, n: int) -> None:
    """image | GT | boundary map | cc | dtws | BAISeg for the first ``n`` val images with touching instances."""
    import tempfile

    from PIL import Image

    from baiseg.commands.demo import write_comparison_sheets
    from baiseg.fileio import write_png_atomic

    with tempfile.TemporaryDirectory() as tmp:
        paths = write_comparison_sheets(data, Path(weights), Path(tmp), n, touching=True)
        rows = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    if rows:
        width = max(r.shape[1] for r in rows)
        write_png_atomic(path, np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]))


def render(rows: list[dict]) -> str:
    """The markdown of a result JSON's rows: the all-images table, then the touching-images table."""
    n_all = next(r["images"] for r in rows if r["subset"] == "all")
    n_touch = next(r["images"] for r in rows if r["subset"] == "touching")
    return (f"All images ({n_all}):\n\n{markdown(rows, 'all')}\n\n"
            f"Images with touching instances of one class ({n_touch}):\n\n{markdown(rows, 'touching')}\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="a VAL dataset YAML or shipped name")
    ap.add_argument("--weights", nargs="+", required=True, help="trained weights, one per training seed")
    ap.add_argument("--name", required=True, help="output file stem")
    ap.add_argument("--out", default="docs/results", help="output folder")
    ap.add_argument("--sheets", type=int, default=4, help="overlay rows (images with touching instances), 0 = none")
    ap.add_argument("--semantics", nargs="+", default=["gt", "model"], choices=("gt", "model"))
    ap.add_argument("--set", nargs="*", default=[], metavar="METHOD:KEY=V",
                    help="a baseline's setting chosen on this domain's train split, e.g. dtws:dtws_peak_frac=0.4")
    args = ap.parse_args(argv)
    tuned: dict[str, dict] = {}
    for item in args.set:
        method, _, kv = item.partition(":")
        key, _, value = kv.partition("=")
        tuned.setdefault(method, {})[key] = yaml.safe_load(value)
    prov = provenance.start(argv)
    cv2.setNumThreads(1)
    t0 = time.perf_counter()
    benches = [Bench(args.data, w) for w in args.weights]
    rows = []
    for semantic in args.semantics:
        for label, method, changes in VARIANTS:
            if semantic == "model" and label.endswith("evidence"):
                continue  # a ranking variant: shown with ground-truth semantics only
            t1 = time.perf_counter()
            changes = {**changes, **tuned.get(method, {})} if method != "baiseg" else changes
            new = run_variant(benches, label, method, semantic, changes)
            rows += new
            print(f"{semantic:5s} {label:50s} mAP50 all {new[0]['mAP50']['mean']} touching {new[1]['mAP50']['mean']}"
                  f" ({time.perf_counter() - t1:.0f} s)", file=sys.stderr)  # fmt: skip
    info = {"data": args.data, "weights": args.weights, "rows": rows, "total_wall_s": round(time.perf_counter() - t0),
            "machine": provenance.machine_line(),
            "command": " ".join(["bench/results.py", *(argv if argv is not None else sys.argv[1:])])}  # fmt: skip
    out = Path(args.out)
    provenance.write_json(out / f"{args.name}.json", info, prov)
    md = render(rows)
    write_text_atomic(out / f"{args.name}.md", md)
    if args.sheets > 0:
        write_sheet(args.data, args.weights[0], out / f"{args.name}_overlays.png", args.sheets)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
