"""Screenshots of a report in headless Chromium (the pictures of docs/REPORT.md and the README).

    .venv/bin/python bench/report_screenshot.py REPORT_DIR OUT.png [--view overview|image] [--layers boundary ...]

``overview``: the top of the page (metrics, per-class AP, PR curves, first thumbnails). ``image``: the first image of
the browser (worst first) opened, the methods side by side, the given layers switched on, its first predicted
instance clicked (its class, score, area and best IoU in the info line).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if not __package__:  # run by its path: the repository root on sys.path for ``tests.report``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.report.browser import console_errors, open_browser, page_url  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", help="report folder (holding index.html)")
    ap.add_argument("out", help="PNG to write")
    ap.add_argument("--view", choices=("overview", "image"), default="image")
    ap.add_argument("--layers", nargs="*", default=[], help="layers to switch on: boundary semantic")
    ap.add_argument("--size", default="1400x900", help="window WIDTHxHEIGHT")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    d = open_browser(w, h)
    try:
        d.get(page_url(Path(args.report) / "index.html"))
        time.sleep(1.0)
        if args.view == "image":
            d.find_elements("css selector", ".thumb")[0].click()
            time.sleep(1.0)
            for layer in args.layers:
                d.find_element("css selector", f".toggle input[data-layer='{layer}']").click()
            inst = d.find_elements("css selector", "#panels .panel[data-method='0'] path.inst.pred")
            if inst:
                d.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", inst[0])
            time.sleep(0.5)
        errors = console_errors(d)
        if errors:
            raise SystemExit(f"console errors: {errors}")
        d.save_screenshot(args.out)
    finally:
        d.quit()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
