"""``baiseg demo``: the whole pipeline on the built-in synthetic data, on a CPU, in minutes.

1. writes two synthetic dataset YAMLs (train / val) into ``--out``;
2. trains the ``cpu_lite0`` preset (pretrained EfficientNet-Lite0) from images + semantic masks only;
3. evaluates BAISeg against the ``cc`` and ``dtws`` baselines on the val split, each with ground-truth and with
   predicted semantics (VOC mAP^r and COCO AP);
4. prints the table, writes ``summary.json``, overlay sheets comparing ``cc`` and BAISeg, and the HTML report of the
   six evaluations side by side (``report/index.html``, docs/REPORT.md).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import yaml

from baiseg import outdir
from baiseg.errors import BaisegError
from baiseg.fileio import write_json_atomic

SETTINGS = [("cc", "gt"), ("dtws", "gt"), ("baiseg", "gt"), ("cc", "model"), ("dtws", "model"), ("baiseg", "model")]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="train, predict and evaluate on built-in synthetic data (CPU, minutes)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", default="demo_out", help="output folder (default demo_out/)")
    p.add_argument("--iters", type=int, default=300, help="training iterations (default 300)")
    p.add_argument("--train-images", type=int, default=200, help="synthetic training images (default 200)")
    p.add_argument("--val-images", type=int, default=24, help="synthetic validation images (default 24)")
    p.add_argument("--size", type=int, default=160, help="synthetic image size in px (default 160)")
    p.add_argument("--sheets", type=int, default=6, help="overlay sheets to write (default 6)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("overrides", nargs="*", help="config overrides for training, e.g. train.batch_size=8")
    p.set_defaults(func=run)


def _write_datasets(out: Path, n_train: int, n_val: int, size: int) -> tuple[Path, Path]:
    paths = []
    for split, n in (("train", n_train), ("val", n_val)):
        p = out / "data" / f"synthetic_{split}.yaml"
        p.parent.mkdir(parents=True, exist_ok=True)
        spec = {"format": "synthetic", "split": split, "num_images": n, "size": size, "seed": 0}
        p.write_text(yaml.safe_dump(spec, sort_keys=False))
        paths.append(p)
    return paths[0], paths[1]


def _evaluate(out: Path, val_yaml: Path, weights: Path, method: str, semantic: str) -> dict[str, Any]:
    """VOC mAP^r and COCO AP (percent) of ``method`` with ``semantic`` (gt | model) semantics on the val split, by
    ``baiseg evaluate`` itself (the weights' ``Predictor`` in one scheduler run feeding the evaluators) into
    ``out/eval/<method>-<semantic>``: ``metrics.json``, ``results.json`` and the maps (``--save-maps``) that
    ``baiseg report`` shows. Returns ``metrics.json``'s ``voc`` and ``coco``."""
    import contextlib
    import io
    import json

    from baiseg.commands import evaluate

    folder = out / "eval" / f"{method}-{semantic}"
    parser = argparse.ArgumentParser(prog="baiseg")
    evaluate.register(parser.add_subparsers())
    args = parser.parse_args(["evaluate", "--data", str(val_yaml), "--weights", str(weights), "--method", method,
                              "--semantic", semantic, "--save-maps", "--json", "--out", str(folder)])  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):  # its --json line; the demo prints one table of all settings
        evaluate.run(args)
    metrics = json.loads((folder / "metrics.json").read_text())
    return {"voc": metrics["voc"], "coco": metrics["coco"], "folder": folder}


def format_table(rows: list[dict[str, Any]]) -> str:
    """Rows of {method, semantic, voc{mAP25..}, coco{AP..}} as a fixed-width text table (values in percent)."""

    def f(x: float | None) -> str:
        return f"{x:7.2f}" if x is not None else "    n/a"

    keys = ("mAP25", "mAP50", "mAP70", "mAP75", "AP", "AP50")
    head = f"{'method':8s} {'semantic':9s} " + " ".join(f"{k:>7s}" for k in keys)
    lines = [head, "-" * len(head)]
    for r in rows:
        v, c = r["voc"], r["coco"]
        lines.append(f"{r['method']:8s} {r['semantic']:9s} " + " ".join(
            f(x) for x in (v["mAP25"], v["mAP50"], v["mAP70"], v["mAP75"], c["AP"], c["AP50"])))  # fmt: skip
    return "\n".join(lines)


def write_comparison_sheets(
    data: str | Path, weights: Path, out_dir: Path, n: int, *, touching: bool = False, mep: list[str] | None = None
) -> list[Path]:
    """Sheets of the first ``n`` images (with touching same-class instances when ``touching``): image | GT |
    boundary map | cc | dtws | BAISeg, all three instance sets on ground-truth semantics."""
    from baiseg.config import mep_with_overrides, to_dict
    from baiseg.data import build_dataset
    from baiseg.evaluation import has_touching_instances
    from baiseg.fileio import write_png_atomic
    from baiseg.postprocess import instances_from_semantic
    from baiseg.predictor import Predictor
    from baiseg.visualize import comparison_sheet

    ds = build_dataset(str(data))
    pred = Predictor.from_pretrained(weights).for_classes(list(ds.class_names), list(ds.category_ids))
    if mep:
        pred = pred.with_mep(**to_dict(mep_with_overrides(pred.mep, mep)))
    written: list[Path] = []
    for i in range(len(ds)):
        if len(written) >= n:
            break
        s = ds[i]
        if touching and not has_touching_instances(s):
            continue
        inst, maps = pred.predict_instances(s["image"], semantic=s["semantic"])
        base = {m: instances_from_semantic(m, s["semantic"], cfg=pred.mep) for m in ("cc", "dtws")}
        row = comparison_sheet(s, maps["boundary_prob"], {**base, "BAISeg": inst}, list(ds.class_names))
        written.append(write_png_atomic(out_dir / f"{s['image_id']}.png", row))
    return written


def run(args: argparse.Namespace) -> int:
    from baiseg.config import load_config, resolve_preset
    from baiseg.engine.trainer import train

    checks = (("--iters", args.iters, 1), ("--train-images", args.train_images, 1),
              ("--val-images", args.val_images, 1), ("--size", args.size, 32), ("--sheets", args.sheets, 0))
    for flag, value, low in checks:
        if value < low:
            raise BaisegError(f"{flag} must be >= {low}, got {value}")
    t0 = time.perf_counter()
    out = outdir.claim(args.out, "demo")  # the output-folder gate: checked, created and locked
    train_yaml, val_yaml = _write_datasets(out, args.train_images, args.val_images, args.size)
    base = [f"data.train={train_yaml}", f"data.val={val_yaml}", f"data.crop_size={args.size}",
            f"train.iters={args.iters}", f"train.out_dir={out / 'runs'}", "train.name=demo",
            f"train.val_every={max(args.iters // 3, 1)}", f"train.ckpt_every={max(args.iters // 3, 1)}",
            "train.val_max_images=8", f"loss.contrast_warmup_iters={args.iters // 5}", "data.num_workers=0",
            "data.scale_min=0.75", "data.scale_max=1.25"]  # fmt: skip
    cfg = load_config(resolve_preset("cpu_lite0"), base + list(args.overrides))
    print(f"[1/3] training cpu_lite0 for {cfg.train.iters} iterations on {args.train_images} synthetic images "
          f"({args.size} px), batch {cfg.train.batch_size}")  # fmt: skip
    run_dir = train(cfg, name="demo", progress=not args.no_progress)
    weights = run_dir / "best.safetensors"
    if not weights.is_file():
        weights = run_dir / "last.safetensors"
    t_train = time.perf_counter() - t0
    print(f"[2/3] evaluating on {args.val_images} val images: BAISeg vs cc vs dtws, GT and predicted semantics")
    rows, folders = [], []
    for method, semantic in SETTINGS:
        m = _evaluate(out, val_yaml, weights, method, semantic)
        rows.append({"method": method, "semantic": semantic, "voc": m["voc"], "coco": m["coco"]})
        folders.append(m["folder"])
    print("[3/3] writing overlay sheets and the HTML report")
    sheets = write_comparison_sheets(val_yaml, weights, out / "overlays", args.sheets)
    from baiseg.report import build_report

    index = build_report(folders, out / "report", progress=not args.no_progress)
    table = format_table(rows)
    summary = {"run_dir": str(run_dir), "weights": str(weights), "iters": cfg.train.iters,
               "train_images": args.train_images, "val_images": args.val_images, "size": args.size,
               "train_s": round(t_train, 1), "total_s": round(time.perf_counter() - t0, 1),
               "results": rows}  # fmt: skip
    write_json_atomic(out / "summary.json", summary, indent=2)
    print(f"\nSynthetic val ({args.val_images} images, {args.size} px); values in percent\n{table}\n")
    print(f"run: {run_dir}\noverlays: {len(sheets)} sheets in {out / 'overlays'}\nsummary: {out / 'summary.json'}")
    print(f"report: file://{index.resolve()} (the six evaluations side by side; the run's: baiseg report {run_dir})")
    print(f"total time {summary['total_s']:.0f} s (training {summary['train_s']:.0f} s)")
    return 0
