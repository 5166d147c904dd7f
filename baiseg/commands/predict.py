"""``baiseg predict``: instances for an image, a folder of images or a dataset YAML.

Writes to ``--out``: ``results.json`` (COCO results: RLE segmentation, dataset category ids, scores, boxes),
``instances/<id>.png`` (instance ids in score order, 0 = none; 16-bit when more than 255), ``boundary/<id>.png``
(boundary probability x 255; not for models without a boundary map), ``overlays/<id>.png`` (coloured instances,
contours, class names), ``mep.yaml`` (the MEP parameters used) and ``skipped.json`` (inputs that could not be read,
with the reason; ``[]`` when none) and ``predict.json`` (the input, weights and classes, for ``baiseg report``;
``--report`` writes the report into ``--out/report``).

Pipeline (the slowest stage sets the pace; ``baiseg.inference.scheduler.run`` with the segmenter of the weights):
reader processes decode images (``--workers``); the network runs on batches of images of the same padded size
(``--batch``, ``--threads``); the MEP, PNG encoding and writing run in a process pool (``--mep-workers``; 0 = one
background thread). Under ``torchrun --nproc_per_node N`` each process
handles its share of the images (``baiseg.engine.shard``) and rank 0 writes the one ``results.json``.

This module holds the command; reading inputs and checking the output folder are in ``predict_io.py``, the writer
stage in ``predict_jobs.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from baiseg import outdir
from baiseg.commands.options import check_count
from baiseg.commands.predict_io import _Inputs, check_out_dir, prepare_out_dir
from baiseg.commands.predict_jobs import Writer
from baiseg.devices import device_arg
from baiseg.errors import BaisegError, DataError
from baiseg.fileio import write_json_atomic, write_text_atomic


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("predict", help="instances from images with released weights")
    p.add_argument("--weights", required=True,
                   help="*.safetensors written by 'baiseg train', or *.onnx written by 'baiseg export'")
    p.add_argument("--input", required=True, help="an image, a folder of images or a dataset description YAML")
    p.add_argument("--out", required=True, help="output folder (new or empty; see --overwrite)")
    p.add_argument("--semantic-dir", default=None, help="external semantic PNGs <image id>.png (ids 0, 1..K, 255)")
    p.add_argument("--split", default=None, help="dataset split when --input is a YAML")
    p.add_argument("--device", type=device_arg, default="cpu", help="cpu | cuda[:N] | auto (torchrun: a GPU per rank)")
    p.add_argument("--workers", type=int, default=1, help="reader processes decoding images (0 = in the main process)")
    p.add_argument("--mep-workers", type=int, default=1,
                   help="processes running the MEP and writing outputs (0 = one thread of the main process)")
    p.add_argument("--threads", type=int, default=0, help="threads of the network (0 = one per core)")
    p.add_argument("--batch", type=int, default=4, help="images per network batch (same padded size only)")
    p.add_argument("--max-side", type=int, default=1024, help="longer side above which images are downscaled (>= 32)")
    p.add_argument("--mep-at", choices=("image", "work"), default="image",
                   help="for downscaled images: run the MEP on the maps upsampled to the image's size (image, default) "
                   "or on the downscaled maps (work: faster, coarser; docs/SPEED.md \"Fewer pixels\")")  # fmt: skip
    p.add_argument("--on-error", choices=("skip", "stop"), default="skip",
                   help="an unreadable input: skip it with a warning (listed in skipped.json) or stop")
    p.add_argument("--overwrite", action="store_true", help="replace the outputs of an earlier predict in --out")
    p.add_argument("--no-overlays", action="store_true", help="skip overlay PNGs")
    p.add_argument("--report", action="store_true", help="also write the HTML report into --out/report (as 'baiseg "
                   "report OUT')")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", help="MEP overrides such as mep.boundary_thr=0.4")
    p.set_defaults(func=run)


# ------------------------------------------------------------------------------------------------------------ run
def _validate(args: argparse.Namespace) -> None:
    if args.max_side < 32:
        raise BaisegError(f"--max-side {args.max_side} is too small: give the longer side in pixels (>= 32)")
    for name in ("workers", "mep_workers", "threads"):
        check_count(getattr(args, name), f"--{name.replace('_', '-')}")
    if args.batch < 1:
        raise BaisegError(f"--batch {args.batch} must be >= 1")


def run(args: argparse.Namespace) -> int:
    stats = predict(args)
    if stats.get("rank", 0) == 0:
        print(stats["summary"])
        if args.report:
            from baiseg.report import build_report

            print(f"wrote {build_report([args.out], Path(args.out) / 'report')}")
    return 0


def predict(args: argparse.Namespace) -> dict[str, Any]:
    """The whole command; returns the timing statistics (``bench/bench_predict.py`` reads them).

    Returns:
        ``{"images", "instances", "skipped", "wall_s", "img_per_s", "read_s", "network_s", "mep_s", "write_s",
        "rank", "world", "summary"}``; the per-stage seconds are summed over this rank's images (busy time).
    """
    from baiseg.engine.distributed import barrier, cleanup
    from baiseg.engine.shard import gather_json_parts, shard_indices, shard_info

    _validate(args)
    t_start = time.perf_counter()
    out = outdir.check_path(args.out)  # the output-folder gate (read only): a bad --out before any input is read
    # the inputs are checked (readable source, unique ids) before the output folder is created: a corrected rerun
    # must not find a folder left by the failed one; the class count is set once the weights are read
    inputs = _Inputs(args.input, args.split, args.semantic_dir, 0)
    check_out_dir(out, args.overwrite)  # every rank checks before any rank creates anything
    outdir.refuse_if_locked(out)  # another predict writing there: --overwrite must not delete its outputs
    info = shard_info(args.device)
    try:
        barrier(info)
        if info.is_main:
            outdir.claim(out, "predict")  # locked before --overwrite removes anything
            prepare_out_dir(out, args.overwrite, not args.no_overlays)
        barrier(info)
        pred = _load_segmenter(args, str(info.device), out if info.is_main else None)
        inputs.num_classes = len(pred.class_names)
        mine = shard_indices(len(inputs), info.rank, info.world_size)
        stats, results, skipped = _pipeline(args, pred, inputs, mine, out, show=info.is_main and not args.no_progress)
        parts = gather_json_parts(out, "predict", {"results": results, "skipped": skipped, "stats": stats}, info)
    finally:
        cleanup(info)
    if parts is None:  # not rank 0
        return {**stats, "rank": info.rank, "world": info.world_size, "summary": ""}
    records, skipped_all = _write_outputs(args, pred, parts, out)
    wall = time.perf_counter() - t_start
    total = {k: sum(p["stats"][k] for p in parts) for k in ("images", "read_s", "network_s", "mep_s", "write_s")}
    total.update(instances=len(records), skipped=len(skipped_all), wall_s=wall,
                 img_per_s=total["images"] / max(wall, 1e-9), rank=0, world=info.world_size)
    ranks = f" on {info.world_size} processes" if info.world_size > 1 else ""
    total["summary"] = (
        f"{total['images']} images, {len(records)} instances in {wall:.1f} s ({total['img_per_s']:.2f} img/s{ranks}, "
        f"everything included); busy time per stage: read {total['read_s']:.1f} s, network {total['network_s']:.1f} s, "
        f"MEP {total['mep_s']:.1f} s, write {total['write_s']:.1f} s -> {out / 'results.json'}"
        + (f"; {len(skipped_all)} unreadable input(s) skipped, listed in {out / 'skipped.json'}" if skipped_all else "")
    )
    return total


def _load_segmenter(args: argparse.Namespace, device: str, out: Path | None) -> Any:
    """The segmenter of ``--weights`` with the mep.* overrides applied (refused for weights without a MEP); writes
    the MEP parameters used to ``out / mep.yaml`` when ``out`` is given (the main rank) and a MEP runs."""
    import torch

    from baiseg.config import dump_yaml, mep_with_overrides, to_dict
    from baiseg.predictor import Predictor

    if args.threads:
        torch.set_num_threads(args.threads)
    pred = Predictor.from_pretrained(args.weights, device=device, max_side=args.max_side, mep_at=args.mep_at,
                                     **({"threads": args.threads} if str(args.weights).endswith(".onnx") and
                                        args.threads else {}))  # fmt: skip
    if args.overrides and not pred.architecture.maps:
        raise BaisegError(f"'{args.weights}' holds {pred.architecture.title} weights, which predict instances "
                          "without a MEP: drop the mep.* overrides")  # fmt: skip
    if args.overrides:
        pred = pred.with_mep(**to_dict(mep_with_overrides(pred.mep, args.overrides)))
    if out is not None and pred.architecture.maps:  # the MEP parameters used (none when no MEP runs)
        write_text_atomic(out / "mep.yaml", dump_yaml(pred.mep))
        print(f"MEP parameters: {to_dict(pred.mep)}")
    return pred


def _write_outputs(args: argparse.Namespace, pred: Any, parts: list[dict[str, Any]], out: Path,
                   ) -> tuple[list[dict[str, Any]], list[Any]]:
    """Merge the ranks' parts (results in input order) and write skipped.json, results.json and predict.json.

    Returns:
        (the COCO result records of all images, the skipped inputs of all ranks).
    """
    merged = sorted((r for p in parts for r in p["results"]), key=lambda r: r[0])
    records = [rec for _, recs in merged for rec in recs]
    skipped_all = [s for p in parts for s in p["skipped"]]
    write_json_atomic(out / "skipped.json", skipped_all, indent=1)
    write_json_atomic(out / "results.json", records)
    source = Path(args.input)
    write_json_atomic(out / "predict.json", {  # what 'baiseg report' needs to find the images and name the classes
        "input": str(source.resolve()) if source.exists() else str(args.input), "split": args.split,
        "weights": str(args.weights), "class_names": list(getattr(pred, "class_names", [])),
        "category_ids": [int(c) for c in getattr(pred, "category_ids", [])]}, indent=1)  # fmt: skip
    return records, skipped_all


def _pipeline(args: argparse.Namespace, pred: Any, inputs: _Inputs, mine: list[int], out: Path,
              show: bool) -> tuple[dict[str, float], list, list]:  # fmt: skip
    """Read -> batch -> network -> MEP + write, overlapped by ``baiseg.inference.scheduler.run``.

    Returns:
        ``(stats, [(index, COCO records)] in input order, skipped inputs)``.
    """
    from baiseg.inference.scheduler import run as run_segmenter

    results: list[tuple[int, list]] = []
    skipped: list[dict[str, str]] = []

    def on_skip(p: Any) -> None:
        if args.on_error == "stop":
            raise DataError(f"{p.error} (--on-error stop; use --on-error skip to go on without it)")
        print(f"warning: skipped: {p.error}", file=sys.stderr)
        skipped.append({"input": p.extras["path"], "error": p.error})

    writer = Writer(str(out), list(pred.class_names), [int(c) for c in pred.category_ids], not args.no_overlays)
    st = run_segmenter(mine, pred, lambda p, inst, extras: results.append((p.index, extras["records"])),
                       read=inputs.read, readers=args.workers, workers=args.mep_workers, batch_size=args.batch,
                       after=writer, on_skip=on_skip, progress="predict" if show else False, total=len(mine),
                       preload=("baiseg.commands.predict_jobs", "baiseg.data", "baiseg.postprocess"))  # fmt: skip
    stats = {"images": st.images, "read_s": st.read_s, "network_s": st.forward_s, "mep_s": st.finish_s,
             "write_s": st.after_s}  # fmt: skip
    return stats, results, skipped
