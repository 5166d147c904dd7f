"""The refinement table of docs/RESULTS.md from the outputs of ``bench/refine.sh`` (no computation: it reads the
``metrics.json`` files that ``baiseg evaluate`` wrote and the runs' ``metrics.csv`` / ``run.json``).

    .venv/bin/python bench/refine_table.py --dataset pennfudan --val pennfudan_val --out docs/results/refine

writes ``<out>/<val>.json`` and ``<out>/<val>.md``; tests/test_docs_tables.py checks that the markdown is what
``render`` makes of the JSON and that its rows appear in docs/RESULTS.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

if not __package__:  # run by its path: import the package ``bench`` (the repository root on sys.path only for that)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import bench  # noqa: F401
    del sys.path[0]
from baiseg.fileio import write_text_atomic  # noqa: E402
from bench import provenance  # noqa: E402

ROWS = (  # (label, kind, folder pattern under runs/refine; {ds}, {seed})
    ("BAISeg (model semantics)", "baiseg", "baiseg_{ds}_s{seed}_model"),
    ("BAISeg* (GT semantics)", "baiseg", "baiseg_{ds}_s{seed}_gt"),
    ("BAISeg† (Mask R-CNN on BAISeg* pseudo labels)", "rcnn", "rcnn_{ds}_baiseg_s{seed}-001"),
    ("dtws† (Mask R-CNN on dtws pseudo labels)", "rcnn", "rcnn_{ds}_dtws_s{seed}-001"),
    ("cc† (Mask R-CNN on cc pseudo labels)", "rcnn", "rcnn_{ds}_cc_s{seed}-001"),
    ("MobileSAM† (Mask R-CNN on MobileSAM + GT semantics pseudo labels)", "rcnn", "rcnn_{ds}_sam_s{seed}-001"),
    ("Mask R-CNN, fully supervised (true train instances)", "rcnn", "rcnn_{ds}_full_s{seed}-001"),
)
PSEUDO = ("baiseg", "dtws", "cc", "sam")
KEYS = ("mAP25", "mAP50", "mAP70", "mAP75")


def _read(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _train_minutes(run: Path) -> float | None:
    p = run / "metrics.csv"
    if not p.is_file():
        return None
    rows = [r for r in csv.DictReader(p.open()) if r.get("elapsed_s")]
    return round(float(rows[-1]["elapsed_s"]) / 60.0, 1) if rows else None


def collect(root: Path, ds: str, val: str, seed: int, eval_suffix: str = "") -> dict[str, Any]:
    """Rows of the table (None where a step has not run yet)."""
    rows = []
    for label, kind, pattern in ROWS:
        folder = root / pattern.format(ds=ds, seed=seed)
        if kind == "rcnn":
            m, t = _read(folder / f"eval{eval_suffix}" / "metrics.json"), _read(
                folder / f"eval{eval_suffix}_touching" / "metrics.json")
        else:
            m, t = _read(folder.with_name(folder.name + eval_suffix) / "metrics.json"), _read(
                folder.with_name(folder.name + eval_suffix + "_touching") / "metrics.json")
        info = _read(folder / "run.json") if kind == "rcnn" else None
        rows.append({
            "label": label,
            "measured": m is not None,
            "voc": {k: m["voc"][k] for k in KEYS} if m else None,
            "coco_AP": m["coco"]["AP"] if m and m.get("coco") else None,
            "touching_mAP50": t["voc"]["mAP50"] if t else None,
            "images": m["images"] if m else None,
            "train_minutes": _train_minutes(folder) if kind == "rcnn" and m else None,  # finished runs only
            "hardware": (f"{info['environment']['cpu_count']} CPU cores" + (", CUDA" if info["environment"].get(
                "cuda_available") else "")) if info else None,
        })
    pseudo = []
    for m in PSEUDO:
        q = _read(root / f"pseudo_{ds}_{m}" / "quality" / "metrics.json")
        pinfo = _read(root / f"pseudo_{ds}_{m}" / "pseudo_info.json")
        pseudo.append({"method": m, "measured": q is not None, "voc": {k: q["voc"][k] for k in KEYS} if q else None,
                       "coco_AP": q["coco"]["AP"] if q and q.get("coco") else None,
                       "instances": pinfo["instances"] if pinfo else None})
    return {"dataset": ds, "val": val, "seed": seed, "rows": rows, "pseudo": pseudo}


def keep_earlier(info: dict[str, Any], earlier: dict[str, Any] | None,
                 fallback: str = "an earlier run") -> dict[str, Any]:
    """Rows not measured under ``--root`` (their runs are not in this checkout) take the values of the same row in
    the ``earlier`` table JSON, marked ``"earlier": <its commit>`` (rendered with a mark); rows absent from both are
    dropped. ``earlier`` None: unmeasured rows are dropped. ``fallback``: the commit named when ``earlier`` has no
    provenance record."""
    commit = (((earlier or {}).get("provenance") or {}).get("git") or {}).get("commit") or fallback
    for key, name in (("rows", "label"), ("pseudo", "method")):
        old = {r[name]: r for r in (earlier or {}).get(key, []) if r.get("voc") is not None}
        kept = []
        for r in info[key]:
            if r.get("measured", r.get("voc") is not None):
                kept.append(r)
            elif r[name] in old:
                kept.append({**old[r[name]], "measured": False, "earlier": old[r[name]].get("earlier", commit)})
        info[key] = kept
    return info


def _f(x: Any) -> str:
    return "—" if x is None else (f"{x:.1f}" if isinstance(x, float) else str(x))


def render(info: dict[str, Any]) -> str:
    """Markdown of the val table and the pseudo-label quality table."""
    lines = [f"Val: `{info['val']}`, seed {info['seed']}; VOC mAP^r (all images), COCO AP, and mAP50 on images with "
             "touching instances of one class.", "",
             "| model | mAP25 | mAP50 | mAP70 | mAP75 | COCO AP | touching mAP50 | train min | hardware |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in info["rows"]:
        v = r["voc"] or {}
        lines.append(f"| {r['label']}{_mark(r)} | " + " | ".join(_f(v.get(k)) for k in KEYS)
                     + f" | {_f(r['coco_AP'])} | {_f(r['touching_mAP50'])} | {_f(r['train_minutes'])} | "
                     f"{_f(r['hardware'])} |")
    lines += ["", f"Pseudo labels on `{info['dataset']}_train` (GT semantics) against the true train instances:", "",
              "| pseudo labels | instances | mAP25 | mAP50 | mAP70 | mAP75 | COCO AP |",
              "|---|---|---|---|---|---|---|"]
    for p in info["pseudo"]:
        v = p["voc"] or {}
        lines.append(f"| {p['method']}{_mark(p)} | {_f(p['instances'])} | " + " | ".join(_f(v.get(k)) for k in KEYS)
                     + f" | {_f(p['coco_AP'])} |")
    earlier = sorted({r["earlier"] for r in (*info["rows"], *info["pseudo"]) if r.get("earlier")})
    if earlier:
        lines += ["", "° from the earlier run of the same commands recorded in this table's JSON before (commit "
                  f"{', '.join(str(c)[:10] for c in earlier)}): those runs are not in this checkout."]
    return "\n".join(lines) + "\n"


def _last_commit(path: Path) -> str:
    """The commit that last wrote ``path`` (git), for a table JSON written before JSONs carried provenance."""
    import subprocess

    r = subprocess.run(["git", "log", "-1", "--format=%H", "--", str(path)], capture_output=True, text=True,
                       check=False)  # fmt: skip
    return r.stdout.strip() or "an earlier run"


def _mark(row: dict[str, Any]) -> str:
    return " °" if row.get("earlier") else ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True, help="prefix used by refine.sh: pennfudan | coco128_panoptic")
    ap.add_argument("--val", required=True, help="val dataset name for the title (and the output file name)")
    ap.add_argument("--eval-suffix", default="", help="read eval<suffix>/ folders (e.g. _voc for the VOC-20 view)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep-earlier", action="store_true", help="rows whose runs are not under --root keep their "
                    "values from the table JSON already at --out (marked; for rows measured in an earlier session)")
    ap.add_argument("--root", default="runs/refine")
    ap.add_argument("--out", default="docs/results/refine")
    ap.add_argument("--results-page", default="docs/RESULTS.md", help="page whose refine:<val> block is replaced "
                    "('' to leave it)")
    args = ap.parse_args()
    prov = provenance.start()
    info = collect(Path(args.root), args.dataset, args.val, args.seed, args.eval_suffix)
    old = Path(args.out) / f"{args.val}.json"
    info = keep_earlier(info, json.loads(old.read_text()) if args.keep_earlier and old.is_file() else None,
                        _last_commit(old))
    info["command"] = (f"python bench/refine_table.py --dataset {args.dataset} --val {args.val}"
                       + (f" --eval-suffix {args.eval_suffix}" if args.eval_suffix else "")
                       + (" --keep-earlier" if args.keep_earlier else ""))
    out = Path(args.out)
    provenance.write_json(out / f"{args.val}.json", info, prov, indent=2)
    write_text_atomic(out / f"{args.val}.md", render(info))
    if args.results_page:
        update_page(Path(args.results_page), args.val, render(info))
    print(render(info))
    return 0


def update_page(page: Path, name: str, md: str) -> None:
    """Put ``md`` between ``<!-- refine:NAME -->`` and ``<!-- /refine:NAME -->`` in ``page`` (markers kept)."""
    text = page.read_text()
    start, end = f"<!-- refine:{name} -->", f"<!-- /refine:{name} -->"
    if start not in text:
        raise SystemExit(f"{page} has no marker {start}")
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1] if end in rest else rest
    write_text_atomic(page, f"{head}{start}\n{md}{end}{tail}")


if __name__ == "__main__":
    raise SystemExit(main())
