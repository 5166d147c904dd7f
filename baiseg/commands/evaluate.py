"""``baiseg evaluate``: VOC mAP^r and COCO AP of BAISeg or a baseline on a dataset with instance ground truth.

    baiseg evaluate --data DATA.yaml (--weights W | --predictions results.json) [--semantic gt|model|DIR]
                    [--method baiseg|cc|dtws] [--subset all|touching] [--json] [--out DIR]

Prints a table (or, with ``--json``, one object ``{"voc": {"mAP25", "mAP50", "mAP70", "mAP75"}, "coco": {"AP",
"AP50", "AP75"}, "images": n}`` in percent, null where undefined) and writes ``metrics.json`` (the same numbers, plus
per-class APs, the COCOeval view at the VOC thresholds and the settings) atomically into ``--out``, together with the
evaluated predictions as ``results.json`` (unless they were read with ``--predictions``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from baiseg import outdir
from baiseg.config import mep_with_overrides
from baiseg.devices import device_arg, resolve_device
from baiseg.errors import BaisegError, WeightsError
from baiseg.evaluation.run import VOC_KEYS, percent
from baiseg.fileio import write_json_atomic


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="VOC mAP^r and COCO AP of BAISeg or a baseline (cc, dtws) on a dataset",
        description="Evaluate instances against a dataset's instance ground truth: VOC mAP^r at IoU .25/.5/.7/.75 "
        "(docs/ARCHITECTURE.md \"Evaluators\") and COCO mask AP. Predictions come from weights, a results JSON, "
        "or a baseline (cc, dtws) run "
        "on ground-truth or stored semantic masks (no weights needed).",
    )
    p.add_argument("--data", required=True,
                   help="dataset description YAML, a shipped dataset name (baiseg/configs/datasets/) or 'synthetic'")
    p.add_argument("--split", default=None, help="override the YAML's split")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--weights", help="released weights (*.safetensors) or checkpoint of a trained model")
    src.add_argument("--predictions", help="COCO results JSON (segm RLE) to evaluate as is")
    p.add_argument(
        "--semantic",
        default=None,
        help="semantic map fed to the instance extraction: gt (the dataset's), model (the network's semantic "
        "branch), or a folder of <image_id>.png class-id maps (default: model with --weights, else gt)",
    )
    p.add_argument("--method", default="baiseg", choices=("baiseg", "cc", "dtws", "sam"),
                   help="instance extraction; sam = MobileSAM automatic masks + the semantic map (pip install "
                   "'baiseg[sam]', weights: --sam-weights)")  # fmt: skip
    p.add_argument("--sam-weights", default=".cache/mobilesam/mobile_sam.pt",
                   help="mobile_sam.pt for --method sam (bash ../shared/tools/fetch_mobilesam.sh .cache/mobilesam)")
    p.add_argument("--sam-refine", type=float, default=None, metavar="IOU",
                   help="with --weights: the optional BAISeg + SAM stage (baiseg.sam.refine): MobileSAM, prompted by "
                   "each instance's box and deepest point, redraws the borders where its mask keeps IoU >= IOU with "
                   "the instance (e.g. 0.5; --sam-weights)")  # fmt: skip
    p.add_argument("--subset", default="all", choices=("all", "touching"), help="touching: only images with "
                   "touching instances of one class (baiseg.evaluation.subsets)")  # fmt: skip
    p.add_argument("--limit", type=int, default=0, help="evaluate only the first N images (0 = all)")
    p.add_argument("--device", type=device_arg, default="auto", help="auto | cpu | cuda (with --weights)")
    p.add_argument("--max-side", type=int, default=1024,
                   help="with --weights: the network and the MEP see each image shrunk so that its longer side is at "
                   "most this (masks are resized back; default 1024, as 'baiseg predict')")  # fmt: skip
    p.add_argument("--mep-at", choices=("image", "work"), default="image",
                   help="with --weights, for shrunk images: the MEP on the maps upsampled to the image's size (image, "
                   "default) or on the shrunk maps (work), as 'baiseg predict'")  # fmt: skip
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="MEP overrides, e.g. mep.boundary_thr=0.4; with "
                   "--method sam, MobileSAM settings, e.g. sam.min_area_px=0")
    p.add_argument("--out", default=None, help="folder for metrics.json / results.json (default runs/eval/<name>)")
    p.add_argument("--json", action="store_true", help="print only the JSON object of the metrics (percent)")
    p.add_argument("--save-maps", action="store_true",
                   help="with --weights: also write boundary/<id>.png (probability x 255) and semantic/<id>.png (class "
                   "ids) into --out, for 'baiseg report'")  # fmt: skip
    p.add_argument("--report", action="store_true", help="write the HTML report of this evaluation into --out/report "
                   "(as 'baiseg report OUT')")  # fmt: skip
    p.set_defaults(func=run)


def _check_args(args: argparse.Namespace) -> str:
    """Validate the combination of options; return the semantic source."""
    if args.limit < 0:
        raise BaisegError(f"--limit {args.limit}: give a number of images (0 = all)")
    if args.max_side < 32:
        raise BaisegError(f"--max-side {args.max_side} is too small: give the longer side in pixels (>= 32)")
    if args.predictions:
        if args.semantic is not None or args.method != "baiseg":
            raise BaisegError("--predictions is evaluated as is: drop --semantic/--method, or drop --predictions")
        return "file"
    semantic = args.semantic or ("model" if args.weights else "gt")
    if semantic not in ("gt", "model") and not Path(semantic).is_dir():
        raise BaisegError(f"--semantic '{semantic}' is neither gt, model nor an existing folder of PNG label maps")
    if args.method == "sam" and (args.weights or semantic == "model"):
        raise BaisegError("--method sam takes its semantic map from --semantic gt or a folder of PNGs, not from a "
                          "model: drop --weights, or write the model's semantic maps to a folder first")
    if args.sam_refine is not None:
        if not args.weights or args.method != "baiseg":
            raise BaisegError("--sam-refine IOU refines BAISeg's instances: give --weights and --method baiseg")
        from baiseg.sam.refine import SAMRefineConfig

        SAMRefineConfig(accept_iou=args.sam_refine)  # the stage's own checks, before any work
    if not args.weights and (args.method == "baiseg" or semantic == "model"):
        raise BaisegError(
            f"--method {args.method} with --semantic {semantic} needs a model: give --weights W, or use "
            "--method cc|dtws with --semantic gt or a folder, or --predictions results.json"
        )
    return semantic


_NO_MAPS = ("'{weights}' holds {title} weights, which predict instances without a semantic map or MEP: drop "
            "--semantic and the mep.* overrides")


def _refuse_mep_without_maps(args: argparse.Namespace) -> None:
    """Refuse --semantic and mep.* overrides with weights of an architecture without maps (Mask R-CNN), from the
    weights' header alone: before the dataset, the model or SAM is read (they would be ignored, not used)."""
    if not args.weights or (args.semantic is None and not args.overrides):
        return
    from baiseg.architectures import get_architecture
    from baiseg.weights_io import read_weights_meta

    try:
        arch = get_architecture(read_weights_meta(args.weights)["config"].model.arch)
    except WeightsError:
        return  # unreadable weights: loading them says why (and the check after loading still holds)
    if not arch.maps:
        raise BaisegError(_NO_MAPS.format(weights=args.weights, title=arch.title))


def _default_out(args: argparse.Namespace, semantic: str) -> Path:
    data = Path(str(args.data)).stem
    what = Path(args.predictions).stem if args.predictions else f"{args.method}-{Path(semantic).name}"
    return Path("runs") / "eval" / f"{data}-{what}-{args.subset}"


def _dataset_ids(dataset: Any) -> list[str]:
    items = getattr(dataset, "items", None)
    if items is not None:
        return [str(r["image_id"]) for r in items]
    return [str(dataset[i]["image_id"]) for i in range(len(dataset))]


def _predictor(args: argparse.Namespace, dataset: Any) -> Any:
    """The weights' segmenter (``Predictor``, or ``MaskRCNNPredictor`` for Mask R-CNN weights) for the dataset's
    classes (matched by name, see ``Predictor.for_classes``), with the ``mep.*`` overrides."""
    predictor = _load_predictor(args.weights, resolve_device(args.device, "--device"), args.method, args.max_side,
                                args.mep_at)  # fmt: skip
    predictor = predictor.for_classes(list(dataset.class_names), list(dataset.category_ids))
    if args.overrides and predictor.architecture.maps:  # no MEP otherwise: refused in run()
        predictor = predictor.with_mep(**vars(mep_with_overrides(predictor.mep, args.overrides)))
    return predictor


def _segmenter(args: argparse.Namespace, dataset: Any) -> tuple[Any, Any]:
    """``(two-stage segmenter, MobileSAM or None)`` of the chosen method (``baiseg.inference``), as in
    ``baiseg pseudo``: the weights' predictor (network + MEP, a baseline on its maps, or Mask R-CNN), MobileSAM +
    the semantic map, or a baseline (cc, dtws) on the given semantic map. MobileSAM is also returned for
    ``--sam-refine`` (it redraws the predictor's instances in the sink)."""
    names = list(dataset.class_names)
    sam = None
    if args.method == "sam" or args.sam_refine is not None:
        from baiseg.sam import load_mobilesam

        sam = load_mobilesam(args.sam_weights)
    if args.weights:
        predictor = _predictor(args, dataset)
        if args.save_maps and predictor.architecture.maps:
            predictor = _KeepNetworkBoundary(predictor)
        return predictor, sam
    if args.method == "sam":
        from baiseg.inference.sam import SAMSegmenter

        return SAMSegmenter(sam, names, args.sam_cfg), None
    from baiseg.inference.baselines import BaselineSegmenter

    mep = mep_with_overrides(None, args.overrides) if args.overrides else None
    return BaselineSegmenter(args.method, names, mep), None


class _KeepNetworkBoundary:
    """``--save-maps``: the predictor, each job also carrying the network's boundary map (float h x w at the
    network's size, in [0, 1]) to the sink as ``extras["network_boundary"]``."""

    def __init__(self, predictor: Any) -> None:
        self.predictor, self.class_names, self.preparer = predictor, predictor.class_names, predictor.preparer
        self.architecture = predictor.architecture

    def prepare(self, item: Any) -> Any:
        return self.preparer(item)

    def forward(self, batch: list[Any]) -> list[Any]:
        jobs = self.predictor.forward(batch)
        for job in jobs:
            job.extras["network_boundary"] = job.data["boundary"]
        return jobs

    @staticmethod
    def finish(job: Any) -> Any:
        from baiseg.predictor import Predictor

        return Predictor.finish(job)


class _Items:
    """The dataset's first ``n`` samples in the evaluators' subset as scheduler ``Item``s, in input order: the
    image, the semantic map of ``--semantic`` (``gt``: the dataset's; ``model``/``none``: none; a folder:
    ``<image id>.png``) and the sample itself (its ground truth) in ``extras["sample"]``."""

    def __init__(self, dataset: Any, semantic: str, n: int, evaluators: Any) -> None:
        self.dataset, self.semantic, self.n, self.evaluators = dataset, semantic, n, evaluators

    def __iter__(self) -> Any:
        from baiseg.inference.protocol import Item

        for i in range(self.n):
            s = self.dataset[i]
            if not self.evaluators.wanted(s):
                continue
            image_id = str(s["image_id"])
            sem = None
            if self.semantic == "gt":
                sem = np.asarray(s["semantic"])
            elif self.semantic not in ("model", "none"):
                from baiseg.data.io import read_semantic_map

                sem = read_semantic_map(self.semantic, image_id, s["image"].shape[:2], len(self.dataset.class_names))
            yield Item(index=i, image_id=image_id, image=s["image"], semantic=sem, extras={"sample": s})


def _sam_refine(sam: Any, iou: float, image: np.ndarray, inst: dict[str, np.ndarray],
                sem: np.ndarray) -> dict[str, np.ndarray]:  # fmt: skip
    """--sam-refine: MobileSAM redraws the borders of BAISeg's instances (baiseg.sam.refine); ``sem`` is the
    semantic map the MEP used, brought to the image's size when the MEP ran on the shrunk image."""
    import cv2

    from baiseg.sam.refine import SAMRefineConfig, sam_refine

    h, w = image.shape[:2]
    if sem.shape != (h, w):
        sem = cv2.resize(sem, (w, h), interpolation=cv2.INTER_NEAREST_EXACT)
    return sam_refine(image, inst, sem, model=sam, cfg=SAMRefineConfig(accept_iou=iou))


def _predict_and_evaluate(args: argparse.Namespace, dataset: Any, segmenter: Any, sam: Any, semantic: str,
                          maps_out: Path | None) -> dict[str, Any]:  # fmt: skip
    """One scheduler run (``baiseg.inference.scheduler``) of ``segmenter`` over the chosen samples; its ordered sink
    saves the maps (``--save-maps``), refines (``--sam-refine``) and feeds the VOC/COCO evaluators. Returns
    ``evaluate_instances``'s entry of ``args.subset``."""
    from baiseg.evaluation.run import SubsetEvaluators
    from baiseg.inference.scheduler import run

    ev = SubsetEvaluators(list(dataset.class_names), list(dataset.category_ids), (args.subset,))
    n = len(dataset) if args.limit <= 0 else min(args.limit, len(dataset))

    def sink(p: Any, found: Any, extras: dict[str, Any]) -> None:
        if maps_out is not None:
            _save_maps(maps_out, p.image_id, {"boundary_prob": extras.get("network_boundary"),
                                              "semantic": extras.get("semantic")})  # fmt: skip
        inst = found.as_dict()
        if sam is not None and args.sam_refine is not None:
            inst = _sam_refine(sam, args.sam_refine, p.rgb, inst,
                               extras["semantic"] if p.semantic is None else p.semantic)  # fmt: skip
        ev.process(p.extras["sample"], inst, (args.subset,))

    run(_Items(dataset, semantic, n, ev), segmenter, sink, progress="evaluate",
        total=n if args.subset == "all" else None)  # fmt: skip
    return ev.summary()[args.subset]


def _read_predictions(args: argparse.Namespace, dataset: Any) -> dict[str, list]:
    """``--predictions``: the results file's entries grouped by image id, checked against the dataset's ids."""
    from baiseg.evaluation.results import check_result_ids, read_results

    grouped = read_results(args.predictions)
    check_result_ids(args.predictions, grouped, _dataset_ids(dataset))
    return grouped


def _evaluate_file(args: argparse.Namespace, dataset: Any, grouped: dict[str, list]) -> dict[str, Any]:
    """``--predictions``: the results file's instances (``_read_predictions``) evaluated as they are."""
    from baiseg.evaluation.results import id_key, results_to_instances
    from baiseg.evaluation.run import evaluate_instances

    cats = list(dataset.category_ids)

    def instances(sample: dict[str, Any]) -> dict[str, np.ndarray]:
        h, w = sample["image"].shape[:2]
        return results_to_instances(grouped.get(id_key(str(sample["image_id"])), []), h, w, cats,
                                    str(sample["image_id"]))  # fmt: skip

    return evaluate_instances(dataset, instances, class_names=list(dataset.class_names), category_ids=cats,
                              subsets=(args.subset,), limit=args.limit, progress=True)[args.subset]  # fmt: skip


def _save_maps(out: Path, image_id: str, maps: dict[str, np.ndarray]) -> None:
    """``boundary/<id>.png`` (uint8 probability x 255 at the network's size) and ``semantic/<id>.png`` (ids)."""
    from baiseg.fileio import write_png_atomic

    if maps.get("boundary_prob") is not None:
        prob = np.clip(np.asarray(maps["boundary_prob"], np.float32), 0.0, 1.0)
        write_png_atomic(out / "boundary" / f"{image_id}.png", (prob * 255).round().astype(np.uint8))
    if maps.get("semantic") is not None:
        write_png_atomic(out / "semantic" / f"{image_id}.png", np.asarray(maps["semantic"], np.uint8))


def _load_predictor(weights: str, device: str, method: str, max_side: int = 1024, mep_at: str = "image") -> Any:
    from baiseg.predictor import Predictor

    return Predictor.from_pretrained(weights, device=device, method=method, max_side=max_side, mep_at=mep_at)


def _table(summary: dict[str, Any], metrics: dict[str, Any]) -> str:
    def f(x: float | None) -> str:
        return "   n/a" if x is None else f"{x:6.2f}"

    s = metrics["settings"]
    lines = [
        f"dataset {s['data']}  images {summary['images']} ({s['subset']})  method {s['method']}  "
        f"semantic {s['semantic']}",
        f"{'':20s}{'@.25':>7s}{'@.50':>7s}{'@.70':>7s}{'@.75':>7s}",
        f"{'VOC mAP^r':20s}" + "".join(" " + f(summary["voc"][k]) for k in VOC_KEYS),
        f"{'COCOeval@VOC thrs':20s}" + "".join(" " + f(metrics["coco_voc_view"][k]) for k in VOC_KEYS),
        f"{'COCO':20s} AP {f(summary['coco']['AP'])}  AP50 {f(summary['coco']['AP50'])}  AP75 "
        f"{f(summary['coco']['AP75'])}",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from baiseg.data import build_dataset
    from baiseg.evaluation.results import write_results
    from baiseg.sam.config import split_sam_overrides

    args.overrides, args.sam_cfg = split_sam_overrides(list(args.overrides or []), args.method)  # sam.KEY=VALUE
    semantic = _check_args(args)
    _refuse_mep_without_maps(args)
    if args.save_maps and not args.weights:
        raise BaisegError("--save-maps writes the network's boundary and semantic maps: give --weights (a baseline's "
                          "semantic map is read from --semantic by 'baiseg report')")
    if args.out:
        outdir.check_path(args.out)  # the output-folder gate (read only): refused now, not after the whole run
    dataset = build_dataset(args.data, split=args.split)
    grouped = _read_predictions(args, dataset) if args.predictions else None
    segmenter, sam = (None, None) if args.predictions else _segmenter(args, dataset)
    if args.weights and not segmenter.architecture.maps:  # Mask R-CNN: no maps, no MEP
        if args.semantic is not None or args.overrides:  # normally refused earlier, from the weights' header
            raise BaisegError(_NO_MAPS.format(weights=args.weights, title="Mask R-CNN"))
        semantic, args.method = "none", "maskrcnn"
    out = outdir.claim(args.out or _default_out(args, semantic), "evaluate", beside=bool(args.predictions))
    start = time.perf_counter()
    if args.predictions:
        res = _evaluate_file(args, dataset, grouped)
    else:
        res = _predict_and_evaluate(args, dataset, segmenter, sam, semantic, out if args.save_maps else None)
    v, c, coco = res["voc_raw"], res["coco_raw"], res["coco_evaluator"]
    summary = {"voc": res["voc"], "coco": res["coco"], "images": res["images"]}
    metrics = dict(summary)
    metrics["coco_voc_view"] = {k: percent(c["voc_view"][k]) for k in VOC_KEYS}
    metrics["per_class"] = {
        name: {**{k: percent(ap[k]) for k in VOC_KEYS}, "coco_AP": percent(c["per_class_AP"].get(name))}
        for name, ap in v["per_class"].items()
    }
    metrics["num_gt"] = v["num_gt"]
    metrics["settings"] = {
        "data": str(args.data), "split": args.split, "weights": args.weights, "predictions": args.predictions,
        "method": None if args.predictions else args.method, "semantic": semantic, "subset": args.subset,
        "limit": args.limit, "max_side": args.max_side if args.weights else None,
        "mep_at": args.mep_at if args.weights else None, "overrides": list(args.overrides),
        "sam_refine": args.sam_refine, "wall_s": round(time.perf_counter() - start, 2),
    }  # fmt: skip
    write_json_atomic(out / "metrics.json", metrics, indent=2)
    if not args.predictions:
        write_results(out / "results.json", coco.results())
    if args.json:
        print(json.dumps(summary))
    else:
        print(_table(summary, metrics))
        print(f"wrote {out / 'metrics.json'}")
    if args.report:
        from baiseg.report import build_report

        print(f"wrote {build_report([out], out / 'report')}")
    return 0
