"""Evaluate the MobileSAM + semantic-map competitor (baiseg.sam) on ground-truth semantics with the repo's evaluators.

    taskset -c 1 nice -n 10 .venv/bin/python bench/eval_sam.py --data pennfudan_val \
        --weights-sam .cache/mobilesam/mobile_sam.pt --score sam,area --out runs/sam/pennfudan_val.json

SAM runs once per image (the proposals are unfiltered); every variant - each ``--score`` rule times each comma-separated
value of the ``KEY=V1,V2`` SAMConfig overrides of the filters/assembly (e.g. ``stability_score_thresh=0.95,0.9``) -
is then filtered, assembled and evaluated on all images and on the images with touching instances of one class
(``has_touching_instances``). Prints VOC mAP^r 25/50/70/75 and COCO AP/AP50/AP75 in percent and writes them, with wall
time, images/s, threads and machine, to ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

if not __package__:  # run by its path: import the package ``bench`` (the repository root on sys.path only for that)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import bench  # noqa: F401
    del sys.path[0]
from baiseg.config_rules import coerce  # noqa: E402
from baiseg.data import build_dataset  # noqa: E402
from baiseg.errors import BaisegError  # noqa: E402
from baiseg.evaluation import COCOInstanceEvaluator, VOCInstanceEvaluator, has_touching_instances  # noqa: E402
from baiseg.evaluation.run import COCO_KEYS, SUBSETS, VOC_KEYS, percent  # noqa: E402
from baiseg.sam import SAMConfig, assemble_sam_instances, filter_proposals, load_mobilesam, sam_proposals
from bench import provenance  # noqa: E402

PROPOSAL_KEYS = ("points_per_side", "points_per_batch", "stability_score_offset")  # one value: SAM runs once


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="dataset name or description YAML, e.g. pennfudan_val")
    p.add_argument("--split", default=None, help="override the dataset's split")
    p.add_argument("--weights-sam", required=True, help="mobile_sam.pt (bash ../shared/tools/fetch_mobilesam.sh DIR)")
    p.add_argument("--limit", type=int, default=0, help="only the first N images (0 = all)")
    p.add_argument("--score", default="sam", help="ranking rule(s): sam | area | sam,area")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--device", default="cpu", help="torch device of MobileSAM")
    p.add_argument("overrides", nargs="*", metavar="KEY=V[,V2..]", help="SAMConfig overrides; lists make variants")
    p.add_argument("--out", required=True, help="output JSON file")
    return p.parse_args(argv)


def variants(score: str, overrides: list[str]) -> tuple[SAMConfig, list[dict[str, Any]]]:
    """The SAMConfig of the proposals and the overrides of each variant (score rules x override lists)."""
    base = SAMConfig()
    types = {k: type(v) for k, v in asdict(base).items()}
    grid: dict[str, list[Any]] = {"score": score.split(",")}
    for item in overrides:
        key, sep, values = item.partition("=")
        if not sep or key not in types:
            raise BaisegError(f"override {item!r} is not KEY=VALUE with a SAMConfig field: {sorted(types)}")
        grid[key] = [coerce(v, types[key], key, BaisegError) for v in values.split(",")]  # the config's own rule
    single = {k: v[0] for k, v in grid.items() if k in PROPOSAL_KEYS}
    if any(len(grid[k]) > 1 for k in single):
        raise BaisegError(f"{', '.join(PROPOSAL_KEYS)} change the SAM proposals: give one value each")
    keys = [k for k in grid if k not in PROPOSAL_KEYS]
    combos = [dict(zip(keys, vals)) for vals in itertools.product(*(grid[k] for k in keys))]
    proposal_cfg = base.with_overrides(**single)
    for c in combos:
        proposal_cfg.with_overrides(**c)  # validates every variant before the long run
    return proposal_cfg, combos


class Evaluators:
    """VOC + COCO evaluators for the 'all' and 'touching' subsets of one variant (``evaluation.run`` evaluates one
    predictor per pass; here all variants share each image's SAM proposals, too large to keep for a second pass)."""

    def __init__(self, class_names: list[str], category_ids: list[int]) -> None:
        k = len(class_names)
        self.ev = {s: (VOCInstanceEvaluator(num_classes=k, class_names=class_names),
                       COCOInstanceEvaluator(k, category_ids=category_ids, class_names=class_names))
                   for s in SUBSETS}  # fmt: skip

    def process(self, sample: dict[str, Any], pred: dict[str, np.ndarray], touching: bool) -> None:
        for subset in SUBSETS if touching else ("all",):
            for e in self.ev[subset]:
                e.process(sample, pred)

    def summary(self) -> dict[str, Any]:
        out = {}
        for subset, (voc, coco) in self.ev.items():
            v, c = voc.evaluate(), coco.evaluate()
            out[subset] = {"voc": {k: percent(v[k]) for k in VOC_KEYS}, "coco": {k: percent(c[k]) for k in COCO_KEYS},
                           "images": v["num_images"], "num_gt": v["num_gt"]}  # fmt: skip
        return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    proposal_cfg, combos = variants(args.score, args.overrides)
    dataset = build_dataset(args.data, split=args.split)
    names, cats = list(dataset.class_names), list(dataset.category_ids)
    model = load_mobilesam(args.weights_sam, device=args.device)
    evals = [Evaluators(names, cats) for _ in combos]
    n = len(dataset) if args.limit <= 0 else min(args.limit, len(dataset))
    sam_s = 0.0
    start = time.perf_counter()
    for i in tqdm(range(n), desc="eval_sam", unit="img", mininterval=10):
        sample = dataset[i]
        touching = has_touching_instances(sample)
        t0 = time.perf_counter()
        props = sam_proposals(sample["image"], sample["semantic"], model=model, cfg=proposal_cfg)
        sam_s += time.perf_counter() - t0
        for combo, ev in zip(combos, evals):
            cfg = proposal_cfg.with_overrides(**combo)
            masks, ious = filter_proposals(props, cfg)
            ev.process(sample, assemble_sam_instances(masks, ious, sample["semantic"], cfg=cfg), touching)
    wall = time.perf_counter() - start
    return {
        "data": args.data, "split": args.split, "images": n, "weights_sam": str(args.weights_sam),
        "config": asdict(proposal_cfg), "semantic": "gt",
        "variants": [{"overrides": c, **ev.summary()} for c, ev in zip(combos, evals)],
        "wall_s": round(wall, 1), "images_per_s": round(n / wall, 4) if wall > 0 else None,
        "sam_s_per_image": round(sam_s / max(n, 1), 2), "threads": args.threads, "device": args.device,
        "machine": f"{provenance.machine_line()}, torch {torch.__version__}",
    }  # fmt: skip


def table(res: dict[str, Any]) -> str:
    def f(x: float | None) -> str:
        return "   n/a" if x is None else f"{x:6.2f}"

    head = f"{'variant':40s}{'subset':>9s}{'imgs':>5s} " + " ".join(f"{k:>6s}" for k in VOC_KEYS + COCO_KEYS)
    lines = [f"{res['data']}: {res['images']} images, {res['wall_s']} s ({res['images_per_s']} img/s, "
             f"{res['threads']} thread(s)), {res['machine']}", head]  # fmt: skip
    for v in res["variants"]:
        name = " ".join(f"{k}={x}" for k, x in v["overrides"].items())
        for subset in SUBSETS:
            r = v[subset]
            vals = [r["voc"][k] for k in VOC_KEYS] + [r["coco"][k] for k in COCO_KEYS]
            lines.append(f"{name:40s}{subset:>9s}{r['images']:5d} " + " ".join(f(x) for x in vals))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    prov = provenance.start(argv)
    res = run(args)
    provenance.write_json(args.out, res, prov, indent=2)
    print(table(res))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
