"""``baiseg evaluate``'s options and their checks, before any data, model or results file is read
(the command: ``baiseg.commands.evaluate``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from baiseg.commands.options import add_workers_option, check_count
from baiseg.devices import device_arg
from baiseg.errors import BaisegError, WeightsError

NO_MAPS = ("'{weights}' holds {title} weights, which predict instances without a semantic map or MEP: drop "
           "--semantic and the mep.* overrides")  # fmt: skip


def add_options(p: argparse.ArgumentParser) -> None:
    """Every option of ``baiseg evaluate`` on its parser."""
    p.add_argument("--data", required=True,
                   help="dataset description YAML, a shipped dataset name (baiseg/configs/datasets/) or 'synthetic'")
    p.add_argument("--split", default=None, help="override the YAML's split")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--weights", help="released weights (*.safetensors) or checkpoint of a trained model")
    src.add_argument("--predictions", help="COCO results JSON (segm RLE) to evaluate as is")
    p.add_argument("--semantic", default=None,
                   help="semantic map fed to the instance extraction: gt (the dataset's), model (the network's "
                   "semantic branch), or a folder of <image_id>.png class-id maps (default: model with --weights, "
                   "else gt)")  # fmt: skip
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
    add_workers_option(p, "the instance extraction (the MEP, a baseline, MobileSAM's assembly or the decoding of "
                       "--predictions)")  # fmt: skip
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


def check_args(args: argparse.Namespace) -> str:
    """Validate the combination of options; return the semantic source (``file`` with ``--predictions``).

    Raises:
        BaisegError: one line naming the options in conflict.
    """
    if args.limit < 0:
        raise BaisegError(f"--limit {args.limit}: give a number of images (0 = all)")
    if args.max_side < 32:
        raise BaisegError(f"--max-side {args.max_side} is too small: give the longer side in pixels (>= 32)")
    check_count(args.workers, "--workers")
    if args.save_maps and not args.weights:
        raise BaisegError("--save-maps writes the network's boundary and semantic maps: give --weights (a baseline's "
                          "semantic map is read from --semantic by 'baiseg report')")
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


def refuse_mep_without_maps(args: argparse.Namespace) -> None:
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
        raise BaisegError(NO_MAPS.format(weights=args.weights, title=arch.title))
