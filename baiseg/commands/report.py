"""``baiseg report``: a static HTML report of evaluate outputs, a predict output or a training run (docs/REPORT.md).

    baiseg report DIR [DIR ...] [--out REPORT_DIR] [--images SRC]

Several evaluate outputs of the same dataset are shown side by side. The report opens from disk (``index.html``) with
no server and no network.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="HTML report and image viewer of evaluations, predictions or a training run",
        description="Write a static, self-contained HTML report (open index.html from disk): metrics, per-class AP "
        "and PR curves, an image browser with per-image errors (missed, false, split, merged at IoU 0.5) for "
        "evaluate / predict outputs; zoomable curves, the config and validation maps for a training run.",
    )
    p.add_argument("folders", nargs="+", metavar="DIR",
                   help="evaluate output(s) of one dataset, one predict output, or one training run folder")
    p.add_argument("--out", default=None, help="report folder (default: DIR/report for one DIR, else runs/report)")
    p.add_argument("--images", default=None,
                   help="a predict output's input images when it has no predict.json (the --input of predict)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from baiseg.report import build_report

    out = Path(args.out) if args.out else (Path(args.folders[0]) / "report" if len(args.folders) == 1
                                           else Path("runs") / "report")  # fmt: skip
    index = build_report(args.folders, out, images=args.images, progress=not args.no_progress)
    print(f"wrote {index} (open it in a browser: file://{index.resolve()})")
    return 0
