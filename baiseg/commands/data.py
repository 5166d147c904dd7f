"""``baiseg data check DATA.yaml [--json]`` and ``baiseg data show DATA.yaml --out DIR [--n N]``."""

from __future__ import annotations

import argparse
import json
import sys

from baiseg import outdir
from baiseg.errors import BaisegError


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="dataset description YAML, a shipped dataset name (baiseg/configs/datasets/) or "
                   "'synthetic'")
    p.add_argument("--split", default=None, help="override the YAML's split (VOC list name; synthetic: train/val)")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "data", help="check or visualise a dataset", description="Inspect a dataset described by a YAML file."
    )
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")
    check = sub.add_parser(
        "check",
        help="scan a whole dataset and list every problem",
        description="Load every sample; print counts and every problem found (exit status 1 if there are any).",
    )
    _add_common(check)
    check.add_argument("--json", action="store_true", help="print one JSON object (images, instances, classes, ...)")
    check.set_defaults(func=run_check)
    show = sub.add_parser(
        "show",
        help="write PNG sheets: image, semantic mask, contour label T, instance overlay",
        description="Write one PNG sheet per sample: image | semantic mask / contour label T | instance overlay.",
    )
    _add_common(show)
    show.add_argument("--out", required=True, help="output folder (created)")
    show.add_argument("--n", type=int, default=8, help="number of samples (default 8)")
    show.add_argument("--neighbourhood", type=int, default=8, choices=(4, 8), help="contour neighbourhood")
    show.add_argument("--void-as-boundary", action="store_true", help="pixels next to void are contour, not ignored")
    show.add_argument("--width-px", type=int, default=1, help="contour width option (default 1)")
    show.add_argument("--void-fill-px", type=int, default=3,
                      help="fill void bands up to 2 * N + 1 px wide before T (default 3; 0 disables; docs/DATA.md)")
    show.set_defaults(func=run_show)
    parser.set_defaults(func=lambda args: (parser.print_help(), 1)[1])


def run_check(args: argparse.Namespace) -> int:
    from baiseg.data import build_dataset
    from baiseg.data.check import check_dataset

    try:
        ds = build_dataset(args.dataset, split=args.split, strict=False)
    except BaisegError as e:
        if not args.json:
            raise
        report = {"dataset": args.dataset, "images": 0, "instances": 0, "classes": [], "problems": [str(e)]}
        print(json.dumps(report))
        return 1
    report = check_dataset(ds, progress=not args.json and sys.stderr.isatty())
    if args.json:
        print(json.dumps(report))
    else:
        print(f"dataset   {report['dataset']} ({report['format']})")
        print(f"images    {report['images']} of {report['listed']} load")
        print(f"instances {report['instances']} (+ {report['crowd']} crowd)")
        per = ", ".join(f"{k} {v}" for k, v in report["instances_per_class"].items())
        print(f"classes   {len(report['classes'])} present of {len(ds.class_names)}" + (f": {per}" if per else ""))
        print(f"problems  {len(report['problems'])}")
        for p in report["problems"]:
            print(f"  - {p}")
    return 1 if report["problems"] else 0


def run_show(args: argparse.Namespace) -> int:
    from baiseg.data import build_dataset
    from baiseg.data_sheets import write_sheets
    from baiseg.errors import DataError

    if args.n < 1:
        raise DataError(f"--n must be >= 1, got {args.n}")
    outdir.check_path(args.out)  # the output-folder gate (read only); created once the dataset is read
    ds = build_dataset(args.dataset, split=args.split)
    outdir.claim(args.out, "data show")
    if args.void_fill_px < 0:
        raise DataError(f"--void-fill-px must be >= 0, got {args.void_fill_px}")
    kwargs = {"neighbourhood": args.neighbourhood, "void_as_boundary": args.void_as_boundary, "width_px": args.width_px,
              "void_fill_px": args.void_fill_px}  # fmt: skip
    paths = write_sheets(ds, args.out, n=args.n, contour_kwargs=kwargs)
    print(f"wrote {len(paths)} sheet(s) to {args.out}")
    return 0
