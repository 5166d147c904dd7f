"""The val table of docs/GENERALISATION.md: every domain, every method, GT and model semantics, from the JSONs of
``bench/results.py`` (one per domain) and ``bench/eval_sam.py`` (MobileSAM + GT semantics, its setting chosen on the
domain's train split). Cells: mean ± half range over the training seeds where a model is involved.

    .venv/bin/python bench/generalise_table.py --domains pennfudan coco128_panoptic dsb2018 \\
        --results 'docs/results/gen/{domain}_val.json' --sam 'docs/results/sam/{domain}_val*.json' \\
        --out docs/results/gen/val_table.md
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from pathlib import Path

LABELS = {"cc": "cc", "dtws": "dtws", "BAISeg, fixed thresholds (defaults before issue 20)": "BAISeg, before",
          "BAISeg": "BAISeg"}  # fmt: skip
METRICS = (("mAP50", "mAP50"), ("mAP75", "mAP75"), ("coco_AP", "COCO AP"))


def _cell(s: dict | None) -> str:
    if not s or s.get("mean") is None:
        return "-"
    runs = [r for r in s.get("runs", []) if r is not None]
    return f"{s['mean']:.1f}" if len(runs) <= 1 else f"{s['mean']:.1f} ± {s['spread']:.1f}"


def rows_for(domain: str, results: dict, sam: dict | None) -> list[str]:
    lines = []
    for semantic in ("gt", "model"):
        for variant, label in LABELS.items():
            got = {r["subset"]: r for r in results["rows"] if r["variant"] == variant and r["semantic"] == semantic}
            if not got:
                continue
            cells = [_cell(got["all"].get(k)) for k, _ in METRICS] + [_cell(got["touching"].get("mAP50"))]
            lines.append(f"| {domain} | {semantic} | {label} | " + " | ".join(cells) + " |")
        if semantic == "gt" and sam is not None:
            v = sam["variants"][0]
            cells = [f"{v['all']['voc']['mAP50']:.1f}", f"{v['all']['voc']['mAP75']:.1f}",
                     f"{v['all']['coco']['AP']:.1f}", f"{v['touching']['voc']['mAP50']:.1f}"]  # fmt: skip
            lines.append(f"| {domain} | gt | MobileSAM | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--domains", nargs="+", required=True)
    ap.add_argument("--results", required=True, help="pattern with {domain}: bench/results.py JSON")
    ap.add_argument("--sam", default=None, help="glob with {domain}: bench/eval_sam.py JSON (its first variant is the "
                    "setting chosen on the train split)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    lines = ["| domain (val) | semantics | method | mAP50 | mAP75 | COCO AP | mAP50, touching |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for d in args.domains:
        res = json.loads(Path(args.results.format(domain=d)).read_text())
        found = sorted(glob.glob(args.sam.format(domain=d))) if args.sam else []
        sam = json.loads(Path(found[0]).read_text()) if found else None
        lines += rows_for(d, res, sam)
    md = "\n".join(lines) + "\n"
    print(md)
    if args.out:
        from baiseg.fileio import write_text_atomic

        write_text_atomic(args.out, md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
