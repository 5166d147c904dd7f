"""What ``baiseg evaluate`` writes and prints: ``metrics.json`` (the numbers in percent, per-class APs, the COCOeval
view at the VOC thresholds, the settings), ``results.json`` (the evaluated predictions, unless they were read with
``--predictions``), the table or the JSON line, the maps of ``--save-maps`` and the report of ``--report``; every
file written atomically (``baiseg.fileio``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from baiseg.evaluation.run import VOC_KEYS, percent
from baiseg.fileio import write_json_atomic, write_png_atomic


def metrics_of(args: argparse.Namespace, semantic: str, res: dict[str, Any], wall_s: float) -> dict[str, Any]:
    """``metrics.json``'s object from one subset's summary ``res`` (``SubsetEvaluators.summary()[subset]``)."""
    v, c = res["voc_raw"], res["coco_raw"]
    metrics: dict[str, Any] = {"voc": res["voc"], "coco": res["coco"], "images": res["images"]}
    metrics["coco_voc_view"] = {k: percent(c["voc_view"][k]) for k in VOC_KEYS}
    metrics["per_class"] = {
        name: {**{k: percent(ap[k]) for k in VOC_KEYS}, "coco_AP": percent(c["per_class_AP"].get(name))}
        for name, ap in v["per_class"].items()
    }
    metrics["num_gt"] = v["num_gt"]
    metrics["settings"] = {
        "data": str(args.data), "split": args.split, "weights": args.weights, "predictions": args.predictions,
        "method": None if args.predictions else args.method, "semantic": semantic, "subset": args.subset,
        "limit": args.limit, "max_side": args.max_side if args.weights else None,
        "mep_at": args.mep_at if args.weights else None, "overrides": list(args.overrides),
        "sam_refine": args.sam_refine, "wall_s": round(wall_s, 2),
    }  # fmt: skip
    return metrics


def write_outputs(args: argparse.Namespace, out: Path, metrics: dict[str, Any], res: dict[str, Any]) -> None:
    """Write ``metrics.json`` (and ``results.json`` unless ``--predictions``), print the table or the JSON line,
    build the report (``--report``)."""
    write_json_atomic(out / "metrics.json", metrics, indent=2)
    if not args.predictions:
        from baiseg.evaluation.results import write_results

        write_results(out / "results.json", res["coco_evaluator"].results())
    summary = {k: metrics[k] for k in ("voc", "coco", "images")}
    if args.json:
        print(json.dumps(summary))
    else:
        print(table(metrics))
        print(f"wrote {out / 'metrics.json'}")
    if args.report:
        from baiseg.report import build_report

        print(f"wrote {build_report([out], out / 'report')}")


def table(metrics: dict[str, Any]) -> str:
    """The printed table: VOC mAP^r and the COCOeval view at the VOC thresholds, COCO AP / AP50 / AP75."""

    def f(x: float | None) -> str:
        return "   n/a" if x is None else f"{x:6.2f}"

    s, coco = metrics["settings"], metrics["coco"]
    lines = [
        f"dataset {s['data']}  images {metrics['images']} ({s['subset']})  method {s['method']}  "
        f"semantic {s['semantic']}",
        f"{'':20s}{'@.25':>7s}{'@.50':>7s}{'@.70':>7s}{'@.75':>7s}",
        f"{'VOC mAP^r':20s}" + "".join(" " + f(metrics["voc"][k]) for k in VOC_KEYS),
        f"{'COCOeval@VOC thrs':20s}" + "".join(" " + f(metrics["coco_voc_view"][k]) for k in VOC_KEYS),
        f"{'COCO':20s} AP {f(coco['AP'])}  AP50 {f(coco['AP50'])}  AP75 {f(coco['AP75'])}",
    ]
    return "\n".join(lines)


def save_maps(out: Path, image_id: str, boundary: np.ndarray | None, semantic: np.ndarray | None) -> None:
    """``--save-maps``: ``boundary/<id>.png`` (uint8 probability x 255 of a float h x w map in [0, 1], at the
    network's size) and ``semantic/<id>.png`` (uint8 class ids at the size the MEP ran); a map that is None is
    skipped."""
    if boundary is not None:
        prob = np.clip(np.asarray(boundary, np.float32), 0.0, 1.0)
        write_png_atomic(out / "boundary" / f"{image_id}.png", (prob * 255).round().astype(np.uint8))
    if semantic is not None:
        write_png_atomic(out / "semantic" / f"{image_id}.png", np.asarray(semantic, np.uint8))
