"""``baiseg pseudo``: pseudo instance labels on the training images, as a COCO dataset that ``baiseg train`` takes.

    baiseg pseudo --weights runs/pennfudan-001/best.safetensors --data pennfudan_train --semantic gt --out pseudo/pf
    baiseg pseudo --data pennfudan_train --method dtws --semantic gt --out pseudo/pf_dtws      # a baseline's labels
    torchrun --nproc_per_node 4 -m baiseg pseudo --weights W --data coco_train --out pseudo/coco   # sharded

Writes ``pseudo.json`` + ``pseudo.yaml`` (+ ``results.json``, ``pseudo_info.json``); see ``baiseg.pseudo``. A rerun
into the same folder continues a killed run.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from baiseg import outdir
from baiseg.commands.options import add_workers_option, check_count
from baiseg.devices import device_arg
from baiseg.errors import BaisegError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "pseudo", help="pseudo instance labels on training images (COCO JSON + dataset YAML)",
        description="Extract instances on every image of a dataset (BAISeg: network + MEP; or the cc / dtws "
        "baselines) and write them as a COCO instances dataset for training a Mask R-CNN (the paper's † rows).",
    )
    p.add_argument("--data", required=True, help="dataset YAML or shipped name (the TRAIN split)")
    p.add_argument("--split", default=None, help="dataset split")
    p.add_argument("--weights", default=None, help="BAISeg *.safetensors (needed by --method baiseg and --semantic "
                   "model)")
    p.add_argument("--method", default="baiseg", help="baiseg (default) | cc | dtws | sam (MobileSAM + the semantic "
                   "map; settings as sam.KEY=VALUE overrides, e.g. sam.min_area_px=0)")
    p.add_argument("--sam-weights", default=".cache/mobilesam/mobile_sam.pt",
                   help="mobile_sam.pt for --method sam (bash ../shared/tools/fetch_mobilesam.sh .cache/mobilesam)")
    p.add_argument("--semantic", default="gt", help="gt (default: the dataset's semantic masks) | model | a folder "
                   "of <image id>.png")
    p.add_argument("--out", required=True, help="output folder (a rerun continues a killed run)")
    p.add_argument("--score-thr", type=float, default=0.0, help="drop instances scoring below (default 0)")
    p.add_argument("--min-area", type=int, default=0, help="drop instances smaller than this many pixels")
    p.add_argument("--chunk", type=int, default=32, help="images per chunk file (the unit of resumption)")
    add_workers_option(p, "the MEP", default=0)
    p.add_argument("--device", type=device_arg, default="cpu", help="cpu | cuda | cuda:N (torchrun: a GPU per rank)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", help="MEP overrides such as mep.boundary_thr=0.8; with --method sam, "
                   "MobileSAM settings such as sam.points_per_side=32")
    p.set_defaults(func=run)


def _segmenter(args: argparse.Namespace, mep: Any, device: str, class_names: list[str], sam_cfg: Any = None) -> Any:
    """The two-stage segmenter of the chosen method (``baiseg.inference``): MobileSAM + semantics, the weights'
    ``Predictor`` (network + MEP or a baseline on its maps), or a baseline on the given semantic maps."""
    if args.method == "sam":
        from baiseg.inference.sam import SAMSegmenter
        from baiseg.sam import load_mobilesam

        return SAMSegmenter(load_mobilesam(args.sam_weights, device=device), class_names, sam_cfg)
    if args.weights:
        from baiseg.predictor import Predictor

        predictor = Predictor.from_pretrained(args.weights, device=device, method=args.method, mep=mep)
        if not predictor.architecture.maps:
            raise BaisegError(f"'{args.weights}' holds Mask R-CNN weights: pseudo labels come from BAISeg weights")
        return predictor
    from baiseg.inference.baselines import BaselineSegmenter

    return BaselineSegmenter(args.method, class_names, mep)


class _Reader:
    """``index -> Item`` of a dataset sample with the semantic map of ``--semantic`` (``gt``: the dataset's,
    ``model``: none, the network's own; a folder: ``<image id>.png`` checked against K)."""

    def __init__(self, dataset: Any, semantic: str, num_classes: int) -> None:
        self.dataset, self.semantic, self.num_classes = dataset, semantic, num_classes

    def __call__(self, i: int) -> Any:
        from baiseg.inference.protocol import Item

        s = self.dataset[i]
        image = np.asarray(s["image"])
        sem = None
        if self.semantic == "gt":
            sem = np.asarray(s["semantic"])
        elif self.semantic != "model":
            from baiseg.data.io import read_semantic_map

            sem = read_semantic_map(self.semantic, str(s["image_id"]), image.shape[:2], self.num_classes)
        return Item(index=i, image_id=str(s["image_id"]), image=image, semantic=sem, extras={"path": s["path"]})


def _identity(args: argparse.Namespace, dataset: Any) -> dict[str, Any]:
    """What produced a pseudo folder: the data (file or name, split, image ids) and the label source."""
    import hashlib

    def where(x: str | None) -> str | None:
        return str(Path(x).resolve()) if x and Path(x).exists() else x

    items = getattr(dataset, "items", None)
    ids = [str(r["image_id"]) for r in items] if items is not None else [str(len(dataset))]
    return {"data": where(args.data), "split": args.split, "images": len(dataset),
            "image_ids_sha1": hashlib.sha1("\n".join(ids).encode()).hexdigest(), "method": args.method,
            "semantic": where(args.semantic), "weights": where(args.weights)}  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from baiseg.config import mep_with_overrides, to_dict
    from baiseg.data import build_dataset
    from baiseg.engine import distributed as D
    from baiseg.engine.shard import shard_info
    from baiseg.pseudo import PseudoSettings, check_settings, make_pseudo_labels

    outdir.check_path(args.out)  # the output-folder gate (read only) before anything is read
    if args.chunk < 1:
        raise BaisegError(f"--chunk {args.chunk}: give a positive number of images")
    check_count(args.workers, "--workers")
    base = None
    if args.weights:
        from baiseg.weights_io import read_weights_meta

        base = read_weights_meta(args.weights)["config"].mep
    from baiseg.sam.config import split_sam_overrides

    rest, sam_cfg = split_sam_overrides(args.overrides or [], args.method)
    mep = mep_with_overrides(base, rest)
    settings = PseudoSettings(method=args.method, semantic=args.semantic,
                              weights=str(Path(args.weights).resolve()) if args.weights else None,
                              score_thr=args.score_thr, min_area_px=args.min_area, mep=to_dict(mep),
                              sam=dataclasses.asdict(sam_cfg) if args.method == "sam" else None)
    check_settings(settings)
    if args.method == "sam":  # before --out is claimed: a corrected rerun must not find it stamped
        from baiseg.sam.model import check_weights_file

        check_weights_file(args.sam_weights)
    dataset = build_dataset(args.data, split=args.split, load_instances=False)
    if len(dataset) == 0:
        raise BaisegError(f"dataset '{args.data}' has no images to label")
    if int(os.environ.get("RANK", "0")) == 0:  # locked, and refused if it holds the labels of other inputs
        outdir.claim(args.out, "pseudo", _identity(args, dataset))
    info = shard_info(args.device)
    try:
        device = str(info.device)
        names = list(dataset.class_names)
        segmenter = _segmenter(args, dataclasses.replace(mep), device, names, sam_cfg)
        read = _Reader(dataset, args.semantic, len(segmenter.class_names))
        yaml_path = make_pseudo_labels(dataset, segmenter, args.out, settings, read=read, chunk=args.chunk,
                                       rank=info.rank, world_size=info.world_size,
                                       barrier=(lambda: D.barrier(info)) if info.distributed else None,
                                       progress=not args.no_progress, workers=args.workers)
    finally:
        if info.distributed:
            D.cleanup(info)
    if yaml_path is not None:
        import json

        meta = json.loads((Path(args.out) / "pseudo_info.json").read_text())
        results = Path(args.out) / "results.json"
        print(f"{meta['images']} images, {meta['instances']} pseudo instances -> {yaml_path}\n"
              f"train on them:    baiseg train maskrcnn_lite0 data.train={yaml_path}\n"
              f"check their quality: baiseg evaluate --data {args.data} --predictions {results}")
    return 0
