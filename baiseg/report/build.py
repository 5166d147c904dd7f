"""The image report: every image with its GT and each method's instances, errors, maps; metrics and PR curves.

Layout of the output folder (all paths relative, so it opens from disk)::

    index.html  assets/report.{js,css}  data/summary.js  data/img/<n>.js  img/<n>.jpg  thumb/<n>.jpg  maps/<n>_*.png

``data/summary.js`` holds what the page needs at once (metrics, curves, one short row per image); an image's instances
(``data/img/<n>.js``) and its pictures load only when it is opened, so a large report opens as fast as a small one.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from baiseg.evaluation.results import id_key, results_to_instances
from baiseg.report.analysis import ERROR_KINDS, analyse_image, pr_curve
from baiseg.report.collect import Method, gt_of
from baiseg.report.images import (
    display_scale,
    gt_records,
    instance_records,
    write_boundary,
    write_image_pair,
    write_semantic,
)
from baiseg.report.writer import write_image_data, write_page


class _Curves:
    """Scores and matches per method and class over the images, for the PR curves."""

    def __init__(self, methods: int) -> None:
        self.scores = [defaultdict(list) for _ in range(methods)]
        self.tps = [defaultdict(list) for _ in range(methods)]
        self.num_gt: dict[str, int] = defaultdict(int)

    def add(self, mi: int, records: list[dict[str, Any]]) -> None:
        for r in records:
            self.scores[mi][r["cls"]].append(r["score"] if r["score"] is not None else 1.0)
            self.tps[mi][r["cls"]].append(r.get("tp", 0))

    def curves(self, names: list[str], classes: list[str]) -> dict[str, dict[str, Any]]:
        return {c: {names[mi]: pr_curve(self.scores[mi][c], self.tps[mi][c], self.num_gt[c])
                    for mi in range(len(names))} for c in classes if self.num_gt[c] > 0}  # fmt: skip


def _read_png(path: Path | None) -> np.ndarray | None:
    return None if path is None else cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def _maps(out: Path, name: str, mi: int, method: Method, sample: dict[str, Any], size: tuple[int, int]) -> dict:
    """Write the boundary / semantic layers of one method on one image; their paths relative to ``out``."""
    image_id, layers = str(sample["image_id"]), {}
    boundary = _read_png(method.map_path("boundary", image_id))
    if boundary is not None:
        write_boundary(out / "maps" / f"{name}_{mi}_b.png", boundary, size)
        layers["boundary"] = f"maps/{name}_{mi}_b.png"
    semantic = _read_png(method.map_path("semantic", image_id))
    source = str(method.settings.get("semantic") or "")
    if semantic is None and source == "gt" and sample.get("semantic") is not None:
        semantic = np.asarray(sample["semantic"])
    elif semantic is None and source not in ("", "gt", "model", "none") and Path(source).is_dir():
        semantic = _read_png(Path(source) / f"{image_id}.png" if (Path(source) / f"{image_id}.png").is_file()
                             else None)  # the --semantic folder of a baseline
    if semantic is not None:
        write_semantic(out / "maps" / f"{name}_{mi}_s.png", semantic, size)
        layers["semantic"] = f"maps/{name}_{mi}_s.png"
    return layers


def _one_image(out: Path, n: int, sample: dict[str, Any], methods: list[Method], names: list[str],
               cats: list[int] | None, curves: _Curves) -> dict[str, Any]:  # fmt: skip
    """Write one image's pictures and data file; return its row of the summary."""
    name = f"{n:05d}"
    image_id = str(sample["image_id"])
    rgb = np.asarray(sample["image"])
    h, w = rgb.shape[:2]
    dh, dw = write_image_pair(out, name, rgb)
    scale = display_scale(h, w)
    gt = gt_of(sample)
    gt_recs = gt_records(gt, scale, names)
    if gt is not None:
        for r, crowd in zip(gt_recs, gt["crowd"]):
            curves.num_gt[r["cls"]] += int(not crowd)
    row = {"id": image_id, "n": name, "w": dw, "h": dh, "err": [] if gt is not None else None, "cls": set()}
    detail = {"id": image_id, "w": dw, "h": dh, "img": f"img/{name}.jpg", "gt": gt_recs, "methods": []}
    for mi, m in enumerate(methods):
        inst = results_to_instances(m.grouped.get(id_key(image_id), []), h, w, cats, image_id)
        extra, gt_kinds = None, None
        if gt is not None:
            a = analyse_image(inst, gt)
            extra, gt_kinds = a["pred"], [g["kind"] for g in a["gt"]]
            row["err"].append([a["errors"][k] for k in ERROR_KINDS])
            for r, g in zip(gt_recs, a["gt"]):
                r.setdefault("iou", []).append(round(g["iou"], 4))
        recs = instance_records(inst, scale, names, extra)
        curves.add(mi, recs)
        row["cls"].update(r["cls"] for r in recs)
        detail["methods"].append({"inst": recs, "gt_kind": gt_kinds, **_maps(out, name, mi, m, sample, (dh, dw))})
    row["cls"] = sorted(row["cls"] | {r["cls"] for r in gt_recs})
    write_image_data(out, name, detail)
    return row


def metrics_rows(methods: list[Method]) -> list[dict[str, Any]]:
    """One row per evaluated method: VOC mAP^r, COCO AP (percent), images, subset and per-class APs."""
    rows = []
    for m in methods:
        if not m.metrics:
            continue
        s = m.metrics.get("settings", {})
        rows.append({"method": m.name, "subset": s.get("subset"), "images": m.metrics.get("images"),
                     "voc": m.metrics.get("voc"), "coco": m.metrics.get("coco"),
                     "per_class": m.metrics.get("per_class", {}), "folder": str(m.folder),
                     "weights": s.get("weights"), "semantic": s.get("semantic")})  # fmt: skip
    return rows


def build_image_report(
    out: Path,
    dataset: Any,
    indices: list[int],
    methods: list[Method],
    *,
    title: str,
    category_ids: list[int] | None,
    class_names: list[str],
    progress: bool = False,
) -> Path:
    """Write the report of ``methods`` on the images ``indices`` of ``dataset`` into ``out``.

    Args:
        out: output folder (created).
        dataset: indexable samples (``image`` uint8 H x W x 3, ``image_id``, optional ``instances`` / ``semantic``).
        indices: which samples, in report order.
        methods: the predictions to show (at least one).
        title: page title.
        category_ids: K dataset category ids that the results use (None: results hold semantic ids 1..K).
        class_names: K class names.
        progress: show a progress bar.

    Returns:
        The path of ``index.html``.
    """
    from tqdm import tqdm

    names = [m.name for m in methods]
    curves = _Curves(len(methods))
    rows = [_one_image(out, n, dataset[i], methods, class_names, category_ids, curves)
            for n, i in enumerate(tqdm(indices, desc="report", unit="img", disable=not progress, leave=False))]
    classes = sorted({c for r in rows for c in r["cls"]}, key=lambda c: (c not in class_names,
                     class_names.index(c) if c in class_names else 0, c))  # fmt: skip
    summary = {"kind": "images", "title": title, "methods": names, "classes": classes, "errors": list(ERROR_KINDS),
               "metrics": metrics_rows(methods), "pr": curves.curves(names, classes), "images": rows,
               "has_gt": any(r["err"] is not None for r in rows)}  # fmt: skip
    return write_page(out, summary)
