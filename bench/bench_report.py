"""How fast a large report opens: a synthetic N-image evaluation report (default 5,000) loaded from disk in headless
Chromium (Selenium, Debian's chromium + chromium-driver), and its size per image.

The report is built by the library (``baiseg.report.build.build_image_report``) from 16 synthetic scenes
(``--size`` px, about 10-20 instances each) repeated under distinct ids, and predictions made from their ground
truth with errors (instances dropped, joined, cut) so that the error columns are not all zero. Then the page is
opened ``--repeats`` times (a fresh browser each time) and two times are read from the page's own clock
(``performance.now()``, from the start of navigation):

- ``ready_ms``: the summary script parsed and the first page of the browser (60 thumbnails, sorted worst first)
  rendered;
- ``thumbs_ms``: those 60 thumbnails decoded as well (``img.decode()`` of each resolved), i.e. the page usable.

    .venv/bin/python bench/bench_report.py --images 5000 --out /tmp/bench_report --json docs/results/report/bench.json

Prints (and with ``--json`` writes) the times (median and each run), the report's size per image and per kind of file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")  # a BLAS thread pool on a busy 2-core machine only slows
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

if not __package__:  # run by its path: the repository root on sys.path for ``tests.report``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baiseg.data.synthetic import SyntheticDataset  # noqa: E402
from baiseg.instances import coco_image_id, coco_results  # noqa: E402
from baiseg.report.build import build_image_report  # noqa: E402
from baiseg.report.collect import Method  # noqa: E402
from bench import provenance  # noqa: E402
from tests.report.tiny import predictions_for  # noqa: E402


class Cycled:
    """``n`` samples that repeat ``scenes`` synthetic scenes under distinct image ids (a 5,000-image report without
    drawing 5,000 scenes: what the page loads depends on the number and size of the files, not on their content)."""

    def __init__(self, n: int, size: int, scenes: int = 16) -> None:
        base = SyntheticDataset(num_images=scenes, size=size, seed=0)
        self.scenes = [base[i] for i in range(scenes)]
        self.n, self.class_names, self.category_ids = n, base.class_names, base.category_ids

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {**self.scenes[i % len(self.scenes)], "image_id": f"scene_{i:05d}"}


def build(out: Path, n: int, size: int) -> float:
    """Write the N-image report into ``out``; returns the seconds it took."""
    ds = Cycled(n, size)
    grouped: dict[str, list[dict[str, Any]]] = {}
    t0 = time.perf_counter()
    for i in range(n):  # predictions = GT with errors of each kind (tests/report/tiny.py), cycling over 4 images
        s = ds[i]
        inst = predictions_for(i % 4, s["instances"])
        grouped[str(coco_image_id(s["image_id"]))] = coco_results(inst, s["image_id"])
    method = Method("synthetic", out, grouped, None, {"semantic": "gt"})
    build_image_report(out, ds, list(range(n)), [method], title=f"bench: {n} synthetic images",
                       category_ids=list(ds.category_ids), class_names=list(ds.class_names), progress=True)  # fmt: skip
    return time.perf_counter() - t0


def load_times(index: Path, repeats: int) -> list[dict[str, float]]:
    """Open the page ``repeats`` times in a fresh headless Chromium; the page's own times (ms)."""
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.report.browser import console_errors, open_browser, page_url

    runs = []
    for _ in range(repeats):
        d = open_browser()
        try:
            d.get(page_url(index))
            WebDriverWait(d, 60).until(lambda x: x.execute_script("return document.body.dataset.ready === '1'"))
            d.set_script_timeout(60)
            thumbs = d.execute_async_script(  # resolves when every thumbnail of the page is decoded
                "const done = arguments[arguments.length - 1];"
                "Promise.all([...document.querySelectorAll('.thumb img')].map(i => i.decode().catch(() => null)))"
                ".then(() => done(performance.now()));")  # fmt: skip
            ready = d.execute_script("return window.REPORT_READY_MS")
            shown = d.execute_script("return document.querySelectorAll('.thumb img').length")
            errors = console_errors(d)
        finally:
            d.quit()
        runs.append({"ready_ms": round(ready, 1), "thumbs_ms": round(thumbs, 1), "thumbs_shown": shown,
                     "console_errors": len(errors)})  # fmt: skip
    return runs


def sizes(out: Path, n: int) -> dict[str, float]:
    """Bytes per image, in total and per folder (img, thumb, data, maps)."""
    per: dict[str, int] = {}
    for p in out.rglob("*"):
        if p.is_file():
            key = p.relative_to(out).parts[0] if len(p.relative_to(out).parts) > 1 else "top"
            per[key] = per.get(key, 0) + p.stat().st_size
    return {"total_per_image_kb": round(sum(per.values()) / n / 1024, 1),
            **{f"{k}_per_image_kb": round(v / n / 1024, 2) for k, v in sorted(per.items())}}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--size", type=int, default=256, help="side of the synthetic images (px)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default="/tmp/bench_report", help="report folder (rebuilt unless --reuse)")
    ap.add_argument("--reuse", action="store_true", help="time the report already in --out")
    ap.add_argument("--json", default=None, help="also write the result here")
    args = ap.parse_args()
    prov = provenance.start()
    out = Path(args.out)
    build_s = None if args.reuse else round(build(out, args.images, args.size), 1)
    runs = load_times(out / "index.html", args.repeats)
    result = {"images": args.images, "size_px": args.size, "build_s": build_s, "runs": runs,
              "median_ready_ms": statistics.median(r["ready_ms"] for r in runs),
              "median_thumbs_ms": statistics.median(r["thumbs_ms"] for r in runs),
              "max_thumbs_ms": max(r["thumbs_ms"] for r in runs), **sizes(out, args.images)}  # fmt: skip
    print(json.dumps(result, indent=1))
    if args.json:
        provenance.write_json(args.json, result, prov)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
