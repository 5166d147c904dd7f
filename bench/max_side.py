"""Fewer pixels for more speed: ``--max-side`` against images per second and quality (docs/SPEED.md "Fewer pixels").

    .venv/bin/python bench/max_side.py --part quality --split train --sides 416 --out docs/results/max_side_train.json
    .venv/bin/python bench/max_side.py --part quality --out docs/results/speed_max_side.json
    .venv/bin/python bench/max_side.py --part speed --threads 2 --out docs/results/speed_max_side.json

``predict`` and ``evaluate`` shrink each image so that its longer side is at most ``--max-side`` before the network
and the MEP see it. The MEP then runs either on the network's maps upsampled to the image's size (``--mep-at image``,
the default) or on the shrunk maps, the masks resized back (``--mep-at work``; ``baiseg.postprocess.scale``). For
each trained model (coco128 panoptic, Penn-Fudan) and its int8 ONNX export (``baiseg export --int8``, the fastest
backend of ``bench/bench_predict.py``), for each side in ``--sides`` and each MEP size in ``--mep-at`` (the first
only for 1024, which shrinks none of these images):

- ``--part quality``: ``baiseg evaluate --max-side S --mep-at M`` on the val split (``--split train``: the train
  split, where the default ``mep_at`` was chosen) with ground-truth and with the model's own
  semantics (VOC mAP^r at IoU 0.5 / 0.75, COCO AP, in percent);
- ``--part speed``: end-to-end ``baiseg predict --max-side S`` (all outputs written, at the images' own size), images
  per second and busy seconds per stage, as ``bench/bench_predict.py`` measures them.

Each part replaces its own section of the JSON and keeps the other, so the quality part (slow, not timed) can run
beside other work and the speed part alone on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

if not __package__:  # run by its path: import the package ``bench`` (the repository root on sys.path only for that)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import bench  # noqa: F401
    del sys.path[0]
from bench import provenance  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


NAMES = {"coco128": "coco128", "pennfudan": "Penn-Fudan"}


def markdown(report: dict) -> str:
    """The docs/SPEED.md "Fewer pixels" table: one row per model, side and MEP size with a speed or quality entry."""
    quality, speed = report.get("quality", {}), report.get("speed", {})
    keys = [k for k in {**quality, **speed} if k.count("/") == 2]
    models = list(dict.fromkeys(k.split("/")[0] for k in keys))
    keys.sort(key=lambda k: (models.index(k.split("/")[0]), -int(k.split("/")[1]), k.split("/")[2] != "image"))
    lines = ["| data | --max-side | --mep-at | img/s | network s | MEP s | write s | GT mAP50 | GT mAP75 | GT AP | "
             "model mAP50 | model mAP75 |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip

    def f(d: dict | None, k: str, fmt: str) -> str:
        return "-" if d is None else format(d[k], fmt)

    for key in keys:
        name, side, mep_at = key.split("/")
        sp, q = speed.get(key), quality.get(key)
        gt, mo = (q or {}).get("gt"), (q or {}).get("model")
        data = f"{NAMES.get(name, name)} {report.get('split', 'val')}"
        lines.append(f"| {data} | {side} | {mep_at if int(side) < 1024 else '-'} | "
                     f"{f(sp, 'img_per_s', '.2f')} | {f(sp, 'network_s', '.1f')} | {f(sp, 'mep_s', '.1f')} | "
                     f"{f(sp, 'write_s', '.1f')} | {f(gt, 'mAP50', '.1f')} | {f(gt, 'mAP75', '.1f')} | "
                     f"{f(gt, 'AP', '.1f')} | {f(mo, 'mAP50', '.1f')} | {f(mo, 'mAP75', '.1f')} |")  # fmt: skip
    return "\n".join(lines)


def plot(report: dict, path: str | Path) -> None:
    """Images per second against GT-semantics mAP75, one line per model and MEP size, the --max-side at each point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    quality, speed = report.get("quality", {}), report.get("speed", {})
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in NAMES:
        for mep_at, style in (("image", "-o"), ("work", "--s")):
            keys = sorted((k for k in speed if k.startswith(f"{name}/") and k in quality
                           and (k.endswith(f"/{mep_at}") or int(k.split("/")[1]) >= 1024)),
                          key=lambda k: -int(k.split("/")[1]))  # fmt: skip
            if len(keys) < 2:
                continue
            x = [speed[k]["img_per_s"] for k in keys]
            y = [quality[k]["gt"]["mAP75"] for k in keys]
            ax.plot(x, y, style, label=f"{NAMES[name]} val, --mep-at {mep_at}")
            for k, xi, yi in zip(keys, x, y):
                ax.annotate(k.split("/")[1], (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.axvline(5.0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("predict, images per second (2 CPU threads, int8 ONNX, all outputs written)")
    ax.set_ylabel("mAP75, ground-truth semantics (%)")
    ax.set_title("--max-side: speed against mask quality (labels: --max-side)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"-> {path}")


def main() -> None:
    from bench.common import MODELS, evaluate_cmd, export_float_and_int8

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=("quality", "speed", "all"), default="all")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated: " + ", ".join(MODELS))
    ap.add_argument("--sides", default="1024,512,416,320", help="comma-separated --max-side values")
    ap.add_argument("--mep-at", default="image,work", help="comma-separated: image, work")
    ap.add_argument("--split", choices=("val", "train"), default="val", help="data split of the quality part")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(REPO / "docs/results/speed_max_side.json"))
    ap.add_argument("--table", action="store_true", help="print the markdown table of --out and measure nothing")
    ap.add_argument("--plot", metavar="PNG", help="draw img/s against mAP75 from --out and measure nothing")
    args = ap.parse_args()
    if args.table or args.plot:
        report = json.loads(Path(args.out).read_text())
        if args.table:
            print(markdown(report))
        if args.plot:
            plot(report, args.plot)
        return
    from bench.bench_predict import predict_stats

    prov = provenance.start()

    sides = [int(s) for s in args.sides.split(",")]
    out = Path(args.out)
    report: dict = json.loads(out.read_text()) if out.is_file() else {}
    report.pop("sides", None)  # the rows' keys name their sides
    report.update(backend="onnx-int8", cpus=os.cpu_count(), split=args.split)
    parts = ("quality", "speed") if args.part == "all" else (args.part,)
    for part in parts:  # rows measured now replace their earlier values; the others are kept
        report.setdefault(part, {})
        if part == "speed":
            report[part]["threads"] = args.threads
    cache = REPO / ".cache" / "bench_onnx"
    measured = 0
    for name in args.models.split(","):
        weights, val = MODELS[name]
        val = val.replace("_val", "_train") if args.split == "train" else val
        weights = REPO / weights
        if not weights.is_file():
            print(f"{name}: {weights} missing, left out", flush=True)
            continue
        _, int8 = export_float_and_int8(weights, cache)
        measured += 1
        for side in sides:
            for mep_at in args.mep_at.split(",")[: 1 if side >= 1024 else None]:
                key = f"{name}/{side}/{mep_at}"
                if "quality" in parts:
                    q = {sem: evaluate_cmd(int8, val, sem, max_side=side, mep_at=mep_at) for sem in ("gt", "model")}
                    report["quality"][key] = q
                    print(f"{key}: " + "; ".join(f"{sem} mAP50 {s['mAP50']:.1f} mAP75 {s['mAP75']:.1f} AP "
                                                 f"{s['AP']:.1f}" for sem, s in q.items()), flush=True)  # fmt: skip
                if "speed" in parts:
                    s = predict_stats(str(int8), val, args.threads, 1, 1, max_side=side, mep_at=mep_at)
                    report["speed"][key] = s
                    print(f"{key}: {s['img_per_s']:.2f} img/s; busy s: read {s['read_s']:.1f}, network "
                          f"{s['network_s']:.1f}, MEP {s['mep_s']:.1f}, write {s['write_s']:.1f}",
                          flush=True)  # fmt: skip
    if not measured:
        print(f"no trained weights found: {out} left as it was")
        return
    record = prov.finish()
    for part in parts:  # a part's rows may come from several runs: each run that measured some adds its record
        report[part].setdefault("provenance", []).append(record)
    provenance.write_json(out, report, prov)
    print(markdown(report))


if __name__ == "__main__":
    main()
