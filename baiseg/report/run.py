"""The report of a training run: loss / learning-rate / validation curves from ``metrics.csv`` (drawn by the page,
zoomable), the config and run record, and the boundary maps of the fixed validation images saved at each validation
(``val_images/<iteration>/<image id>.png``, written when ``train.val_images`` > 0).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import cv2

from baiseg.report.collect import ReportError, read_json
from baiseg.report.images import display_scale, resize_to, write_png
from baiseg.report.writer import write_page

VAL_SIDE = 256  # longer side of the validation maps in the report (px)


def read_metrics_csv(path: Path) -> dict[str, list[list[float]]]:
    """``metrics.csv`` as one series per column: ``{column: [[iteration, value], ...]}`` (empty cells left out).

    Raises:
        ReportError: unreadable file, no ``iteration`` column (an empty file) or a cell that is not a number.
    """
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows, columns = list(reader), reader.fieldnames
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ReportError(f"'{path}' cannot be read ({e}): give the metrics.csv written by 'baiseg train'") from None
    if not columns or "iteration" not in columns:
        raise ReportError(f"'{path}' has no 'iteration' column: give the metrics.csv written by 'baiseg train'")
    series: dict[str, list[list[float]]] = {}
    for n, row in enumerate(rows, 2):
        for key, text in row.items():
            if key is not None and text not in (None, ""):
                try:
                    float(text)
                except ValueError:
                    raise ReportError(f"'{path}' line {n}: '{key}' is {text!r}, not a number: give the metrics.csv "
                                      "written by 'baiseg train'") from None  # fmt: skip
        if row.get("iteration") in (None, ""):
            continue
        it = float(row["iteration"])
        for key, text in row.items():
            if key in (None, "iteration") or text in (None, ""):
                continue
            v = float(text)
            if math.isfinite(v):
                series.setdefault(key, []).append([it, v])
    return series


def group_series(series: dict[str, list[list[float]]]) -> list[dict[str, Any]]:
    """Charts of related series: losses, validation metrics, learning rate, speed (empty groups left out)."""
    groups = [("losses", lambda k: k.startswith("loss")), ("validation", lambda k: k.startswith("val_")),
              ("learning rate", lambda k: k == "lr"), ("speed (images/s)", lambda k: k == "images_per_s")]  # fmt: skip
    charts = []
    for title, pick in groups:
        keys = [k for k in series if pick(k) and any(v != 0 for _, v in series[k])]
        if keys:
            charts.append({"title": title, "series": {k: series[k] for k in keys}})
    return charts


def _val_images(run: Path, out: Path) -> list[dict[str, Any]]:
    """Copy the saved validation maps, shrunk, into ``out/val``; one entry per validation step."""
    root = run / "val_images"
    if not root.is_dir():
        return []
    steps = []
    for step_dir in sorted((d for d in root.iterdir() if d.is_dir() and d.name.isdigit()), key=lambda d: int(d.name)):
        items = []
        for png in sorted(step_dir.glob("*.png")):
            img = cv2.imread(str(png), cv2.IMREAD_COLOR)
            if img is None:
                continue
            small = resize_to(img, display_scale(*img.shape[:2], VAL_SIDE))
            rel = f"val/{step_dir.name}_{png.stem}.png"
            write_png(out / rel, small)
            items.append({"id": png.stem, "src": rel})
        if items:
            steps.append({"iteration": int(step_dir.name), "images": items})
    return steps


def build_run_report(run: Path, out: Path) -> Path:
    """Write the report of the training run folder ``run`` into ``out``; returns ``index.html``."""
    series = read_metrics_csv(run / "metrics.csv")
    try:
        config = (run / "config.yaml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ReportError(f"'{run / 'config.yaml'}' cannot be read ({e})") from None
    record = read_json(run / "run.json", "run record") if (run / "run.json").is_file() else {}
    summary = {"kind": "run", "title": f"training run {run.name}", "charts": group_series(series),
               "config": config, "run": record, "val_images": _val_images(run, out),
               "iterations": int(max((p[0] for s in series.values() for p in s), default=0))}  # fmt: skip
    return write_page(out, summary)
