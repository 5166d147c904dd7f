"""``baiseg evaluate``: VOC mAP^r and COCO AP of BAISeg, a baseline or a results file on a dataset with instance
ground truth.

    baiseg evaluate --data DATA.yaml (--weights W | --predictions results.json) [--semantic gt|model|DIR]
                    [--method baiseg|cc|dtws|sam] [--subset all|touching] [--workers N] [--json] [--out DIR]

Every source of instances is a two-stage segmenter (docs/ARCHITECTURE.md "The inference core"), run once over the
chosen images by the one scheduler, whose ordered sink feeds the evaluators (``SubsetEvaluators``): the weights'
predictor, MobileSAM or a baseline on a semantic map, or the results file itself (``--predictions``: its entries
decoded in ``finish``). ``--workers N`` runs ``finish`` in N processes.

Prints a table (or, with ``--json``, one object ``{"voc": {"mAP25", "mAP50", "mAP70", "mAP75"}, "coco": {"AP",
"AP50", "AP75"}, "images": n}`` in percent, null where undefined) and writes ``metrics.json`` (the same numbers, plus
per-class APs, the COCOeval view at the VOC thresholds and the settings) atomically into ``--out``, together with the
evaluated predictions as ``results.json`` (unless they were read with ``--predictions``). The options:
``evaluate_options.py``; the items and the command's own segmenters: ``evaluate_sources.py``; the outputs:
``evaluate_outputs.py``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from baiseg import outdir
from baiseg.commands.evaluate_options import NO_MAPS, add_options, check_args, refuse_mep_without_maps
from baiseg.config import mep_with_overrides
from baiseg.devices import resolve_device
from baiseg.errors import BaisegError
from baiseg.instances import Instances


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="VOC mAP^r and COCO AP of BAISeg or a baseline (cc, dtws) on a dataset",
        description="Evaluate instances against a dataset's instance ground truth: VOC mAP^r at IoU .25/.5/.7/.75 "
        "(docs/ARCHITECTURE.md \"Evaluators\") and COCO mask AP. Predictions come from weights, a results JSON, "
        "or a baseline (cc, dtws) run "
        "on ground-truth or stored semantic masks (no weights needed).",
    )
    add_options(p)
    p.set_defaults(func=run)


def _default_out(args: argparse.Namespace, semantic: str) -> Path:
    data = Path(str(args.data)).stem
    what = Path(args.predictions).stem if args.predictions else f"{args.method}-{Path(semantic).name}"
    return Path("runs") / "eval" / f"{data}-{what}-{args.subset}"


def _load_predictor(weights: str, device: str, method: str, max_side: int = 1024, mep_at: str = "image") -> Any:
    from baiseg.predictor import Predictor

    return Predictor.from_pretrained(weights, device=device, method=method, max_side=max_side, mep_at=mep_at)


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
    """``(two-stage segmenter, MobileSAM or None)`` of the chosen source (``baiseg.inference``), as in
    ``baiseg pseudo``: the results file (``--predictions``), the weights' predictor (network + MEP, a baseline on
    its maps, or Mask R-CNN), MobileSAM + the semantic map, or a baseline (cc, dtws) on the given semantic map.
    MobileSAM is also returned for ``--sam-refine`` (it redraws the predictor's instances in the sink)."""
    names, cats = list(dataset.class_names), list(dataset.category_ids)
    if args.predictions:
        from baiseg.commands.evaluate_sources import ResultsSegmenter
        from baiseg.evaluation.results import check_result_ids, read_results

        grouped = read_results(args.predictions)  # the results gate: every entry checked
        check_result_ids(args.predictions, grouped, _dataset_ids(dataset))
        return ResultsSegmenter(grouped, names, cats), None
    sam = None
    if args.method == "sam" or args.sam_refine is not None:
        from baiseg.sam import load_mobilesam

        sam = load_mobilesam(args.sam_weights)
    if args.weights:
        from baiseg.commands.evaluate_sources import KeepNetworkBoundary

        predictor = _predictor(args, dataset)
        keep = args.save_maps and predictor.architecture.maps
        return (KeepNetworkBoundary(predictor) if keep else predictor), sam
    if args.method == "sam":
        from baiseg.inference.sam import SAMSegmenter

        return SAMSegmenter(sam, names, args.sam_cfg), None
    from baiseg.inference.baselines import BaselineSegmenter

    mep = mep_with_overrides(None, args.overrides) if args.overrides else None
    return BaselineSegmenter(args.method, names, mep), None


def _dataset_ids(dataset: Any) -> list[str]:
    items = getattr(dataset, "items", None)
    if items is not None:
        return [str(r["image_id"]) for r in items]
    return [str(dataset[i]["image_id"]) for i in range(len(dataset))]


def _sam_refine(sam: Any, iou: float, image: np.ndarray, inst: Instances, sem: np.ndarray) -> Instances:
    """--sam-refine: MobileSAM redraws the borders of BAISeg's instances (baiseg.sam.refine); ``sem`` is the
    semantic map the MEP used, brought to the image's size when the MEP ran on the shrunk image."""
    import cv2

    from baiseg.sam.refine import SAMRefineConfig, sam_refine

    h, w = image.shape[:2]
    if sem.shape != (h, w):
        sem = cv2.resize(sem, (w, h), interpolation=cv2.INTER_NEAREST_EXACT)
    return sam_refine(image, inst, sem, model=sam, cfg=SAMRefineConfig(accept_iou=iou))


def _score(args: argparse.Namespace, dataset: Any, segmenter: Any, sam: Any, semantic: str,
           maps_out: Path | None) -> dict[str, Any]:  # fmt: skip
    """One scheduler run (``baiseg.inference.scheduler``) of ``segmenter`` over the chosen samples, ``finish`` in
    ``args.workers`` processes; its ordered sink saves the maps (``--save-maps``), refines (``--sam-refine``) and
    feeds the VOC/COCO evaluators. Returns ``SubsetEvaluators.summary()``'s entry of ``args.subset``."""
    from baiseg.commands.evaluate_outputs import save_maps
    from baiseg.commands.evaluate_sources import Items
    from baiseg.evaluation.run import SubsetEvaluators
    from baiseg.inference.scheduler import run

    ev = SubsetEvaluators(list(dataset.class_names), list(dataset.category_ids), (args.subset,))
    n = len(dataset) if args.limit <= 0 else min(args.limit, len(dataset))

    def sink(p: Any, found: Instances, extras: dict[str, Any]) -> None:
        if maps_out is not None:
            save_maps(maps_out, p.image_id, extras.get("network_boundary"), extras.get("semantic"))
        if sam is not None and args.sam_refine is not None:
            found = _sam_refine(sam, args.sam_refine, p.rgb, found,
                                extras["semantic"] if p.semantic is None else p.semantic)  # fmt: skip
        ev.process(p.extras["sample"], found, (args.subset,))

    run(Items(dataset, semantic, n, ev), segmenter, sink, workers=args.workers, progress="evaluate",
        total=n if args.subset == "all" else None)  # fmt: skip
    return ev.summary()[args.subset]


def run(args: argparse.Namespace) -> int:
    from baiseg.commands.evaluate_outputs import metrics_of, write_outputs
    from baiseg.data import build_dataset
    from baiseg.sam.config import split_sam_overrides

    args.overrides, args.sam_cfg = split_sam_overrides(list(args.overrides or []), args.method)  # sam.KEY=VALUE
    semantic = check_args(args)
    refuse_mep_without_maps(args)
    if args.out:
        outdir.check_path(args.out)  # the output-folder gate (read only): refused now, not after the whole run
    dataset = build_dataset(args.data, split=args.split)
    segmenter, sam = _segmenter(args, dataset)
    if args.weights and not segmenter.architecture.maps:  # Mask R-CNN: no maps, no MEP
        if args.semantic is not None or args.overrides:  # normally refused earlier, from the weights' header
            raise BaisegError(NO_MAPS.format(weights=args.weights, title="Mask R-CNN"))
        semantic, args.method = "none", "maskrcnn"
    out = outdir.claim(args.out or _default_out(args, semantic), "evaluate", beside=bool(args.predictions))
    start = time.perf_counter()
    res = _score(args, dataset, segmenter, sam, semantic, out if args.save_maps else None)
    write_outputs(args, out, metrics_of(args, semantic, res, time.perf_counter() - start), res)
    return 0
