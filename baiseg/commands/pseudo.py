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
    p.add_argument("--workers", type=int, default=0, help="processes running the MEP (0 = in the main process)")
    p.add_argument("--device", type=device_arg, default="cpu", help="cpu | cuda | cuda:N (torchrun: a GPU per rank)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", help="MEP overrides such as mep.boundary_thr=0.8; with --method sam, "
                   "MobileSAM settings such as sam.points_per_side=32")
    p.set_defaults(func=run)


def _extractor(args: argparse.Namespace, mep: Any, device: str, num_classes: int, sam_cfg: Any = None) -> Any:
    """sample -> MEP job for ``_finish``, for the chosen method and semantic source."""
    predictor = sam = None
    if args.method == "sam":
        from baiseg.sam import load_mobilesam

        sam = load_mobilesam(args.sam_weights, device=device)
    if args.weights:
        from baiseg.predictor import Predictor

        predictor = Predictor.from_pretrained(args.weights, device=device, method=args.method, mep=mep)
        if not predictor.architecture.maps:
            raise BaisegError(f"'{args.weights}' holds Mask R-CNN weights: pseudo labels come from BAISeg weights")

    def semantic_of(sample: dict[str, Any]) -> np.ndarray | None:
        if args.semantic == "gt":
            return np.asarray(sample["semantic"])
        if args.semantic == "model":
            return None
        from baiseg.data.io import read_semantic_map

        k = len(predictor.class_names) if predictor is not None else num_classes
        return read_semantic_map(args.semantic, str(sample["image_id"]), np.asarray(sample["image"]).shape[:2], k)

    def extract(sample: dict[str, Any]) -> tuple:
        """The MEP job of one image (the network runs here; baiseg.pseudo.mep_job finishes it)."""
        sem = semantic_of(sample)
        image = np.asarray(sample["image"])
        wants_image = mep.watershed_on == "image"
        if sam is not None:  # MobileSAM runs here (main process, its device); nothing is left for the pool
            from baiseg.sam import sam_instances

            return ("done", sam_instances(image, sem, model=sam, cfg=sam_cfg))
        if predictor is None:
            return (args.method, sem, None, None, image if wants_image else None, mep)
        h, w = image.shape[:2]
        work = predictor.working_image(image)
        if work.shape[:2] != (h, w):  # large image: the predictor's own downscale-and-resize-back path
            inst, _ = predictor.predict_instances(image, semantic=sem)
            return ("done", inst)
        maps = predictor.infer(work)
        from baiseg.predictor import semantic_input

        semantic, sem_prob = semantic_input(maps, sem)
        return (args.method, semantic, maps["boundary_prob"], sem_prob, image if wants_image else None, mep)

    return extract


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


def _finish(job: tuple) -> dict[str, np.ndarray]:
    if job[0] == "done":
        return job[1]
    from baiseg.pseudo import mep_job

    return mep_job(job)


def run(args: argparse.Namespace) -> int:
    from baiseg.config import mep_with_overrides, to_dict
    from baiseg.data import build_dataset
    from baiseg.engine import distributed as D
    from baiseg.engine.shard import shard_info
    from baiseg.pseudo import PseudoSettings, check_settings, make_pseudo_labels

    outdir.check_path(args.out)  # the output-folder gate (read only) before anything is read
    if args.chunk < 1:
        raise BaisegError(f"--chunk {args.chunk}: give a positive number of images")
    if args.workers < 0:
        raise BaisegError(f"--workers {args.workers}: give 0 (in the main process) or a number of processes")
    base = None
    if args.weights:
        from baiseg.weights_io import read_weights_meta

        base = read_weights_meta(args.weights)["config"].mep
    from baiseg.sam.config import split_sam_overrides

    rest, sam_cfg = split_sam_overrides(args.overrides or [])
    if rest != (args.overrides or []) and args.method != "sam":
        raise BaisegError("sam.KEY=VALUE overrides set MobileSAM's settings: use them with --method sam")
    mep = mep_with_overrides(base, rest)
    settings = PseudoSettings(method=args.method, semantic=args.semantic,
                              weights=str(Path(args.weights).resolve()) if args.weights else None,
                              score_thr=args.score_thr, min_area_px=args.min_area, mep=to_dict(mep),
                              sam=dataclasses.asdict(sam_cfg) if args.method == "sam" else None)
    check_settings(settings)
    dataset = build_dataset(args.data, split=args.split, load_instances=False)
    if len(dataset) == 0:
        raise BaisegError(f"dataset '{args.data}' has no images to label")
    if int(os.environ.get("RANK", "0")) == 0:  # locked, and refused if it holds the labels of other inputs
        outdir.claim(args.out, "pseudo", _identity(args, dataset))
    info = shard_info(args.device)
    try:
        device = str(info.device)
        extract = _extractor(args, dataclasses.replace(mep), device, len(dataset.class_names), sam_cfg)
        yaml_path = make_pseudo_labels(dataset, extract, args.out, settings, chunk=args.chunk, rank=info.rank,
                                       world_size=info.world_size,
                                       barrier=(lambda: D.barrier(info)) if info.distributed else None,
                                       progress=not args.no_progress, finish=_finish, workers=args.workers)
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
