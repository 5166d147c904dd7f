"""``baiseg predict``: instances for an image, a folder of images or a dataset YAML.

Writes to ``--out``: ``results.json`` (COCO results: RLE segmentation, dataset category ids, scores, boxes),
``instances/<id>.png`` (instance ids in score order, 0 = none; 16-bit when more than 255), ``boundary/<id>.png``
(boundary probability x 255; not for models without a boundary map), ``overlays/<id>.png`` (coloured instances,
contours, class names), ``mep.yaml`` (the MEP parameters used) and ``skipped.json`` (inputs that could not be read,
with the reason; ``[]`` when none).

Pipeline (the slowest stage sets the pace): reader processes decode images (``--workers``); the network runs on
batches of images of the same padded size (``--batch``, ``--threads``); the MEP, PNG encoding and writing run in a
process pool (``--mep-workers``; 0 = one background thread). Under ``torchrun --nproc_per_node N`` each process
handles its share of the images (``baiseg.engine.shard``) and rank 0 writes the one ``results.json``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from baiseg.errors import BaisegError, DataError
from baiseg.fileio import clean_stale_temps, write_json_atomic, write_text_atomic

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
OUTPUT_FILES = ("results.json", "skipped.json", "mep.yaml")
OUTPUT_DIRS = ("instances", "boundary", "overlays")
MIN_FREE_BYTES = 64 * 2**20  # refuse to start with less free space than this in --out


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("predict", help="instances from images with released weights")
    p.add_argument("--weights", required=True,
                   help="*.safetensors written by 'baiseg train', or *.onnx written by 'baiseg export'")
    p.add_argument("--input", required=True, help="an image, a folder of images or a dataset description YAML")
    p.add_argument("--out", required=True, help="output folder (new or empty; see --overwrite)")
    p.add_argument("--semantic-dir", default=None, help="external semantic PNGs <image id>.png (ids 0, 1..K, 255)")
    p.add_argument("--split", default=None, help="dataset split when --input is a YAML")
    p.add_argument("--device", default="cpu", help="cpu | cuda | auto (under torchrun: each rank its own GPU)")
    p.add_argument("--workers", type=int, default=1, help="reader processes decoding images (0 = in the main process)")
    p.add_argument("--mep-workers", type=int, default=1,
                   help="processes running the MEP and writing outputs (0 = one thread of the main process)")
    p.add_argument("--threads", type=int, default=0, help="threads of the network (0 = one per core)")
    p.add_argument("--batch", type=int, default=4, help="images per network batch (same padded size only)")
    p.add_argument("--max-side", type=int, default=1024, help="longer side above which images are downscaled (>= 32)")
    p.add_argument("--on-error", choices=("skip", "stop"), default="skip",
                   help="an unreadable input: skip it with a warning (listed in skipped.json) or stop")
    p.add_argument("--overwrite", action="store_true", help="replace the outputs of an earlier predict in --out")
    p.add_argument("--no-overlays", action="store_true", help="skip overlay PNGs")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", help="MEP overrides such as mep.boundary_thr=0.4")
    p.set_defaults(func=run)


def _shipped_dataset(name: str) -> bool:
    """True for a bare name of a dataset YAML under baiseg/configs/datasets/ (e.g. ``pennfudan_val``)."""
    from baiseg.config import find_named_yaml
    from baiseg.data.spec import DATASETS_DIR

    return not Path(name).exists() and find_named_yaml(name, DATASETS_DIR)[0] is not None


@dataclass
class Item:
    """One input after reading: ``work`` is the image the network sees (``rgb`` downscaled to ``max_side``)."""

    index: int
    image_id: str
    path: str
    rgb: np.ndarray | None = None
    work: np.ndarray | None = None
    semantic: np.ndarray | None = None
    error: str | None = None  # unreadable input (skippable)
    fatal: str | None = None  # a user error that stops the run (e.g. a bad semantic PNG)
    t_read: float = 0.0


class _Inputs:
    """Image files or a baiseg dataset: ``read(i)`` gives an ``Item`` (errors in it, never raised)."""

    def __init__(self, source: str, split: str | None, semantic_dir: str | None, num_classes: int,
                 max_side: int) -> None:  # fmt: skip
        self.semantic_dir = Path(semantic_dir) if semantic_dir else None
        if self.semantic_dir is not None and not self.semantic_dir.is_dir():
            raise DataError(f"--semantic-dir '{semantic_dir}' is not a folder of <image id>.png files")
        self.num_classes, self.max_side = num_classes, max_side
        path = Path(source)
        self.dataset = None
        self.files: list[Path] = []
        if path.suffix.lower() in (".yaml", ".yml") or source == "synthetic" or _shipped_dataset(source):
            from baiseg.data import build_dataset

            self.dataset = build_dataset(source, split=split, load_instances=False)
        elif path.is_dir():
            self.files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file())
            if not self.files:
                raise DataError(f"folder '{path}' holds no image ({', '.join(sorted(IMAGE_EXTS))})")
        elif path.is_file():
            self.files = [path]
        else:
            raise DataError(
                f"--input '{source}' is neither an image, a folder, a dataset YAML nor a shipped dataset name"
            )

    def __len__(self) -> int:
        return len(self.dataset) if self.dataset is not None else len(self.files)

    def name(self, i: int) -> str:
        if self.dataset is None:
            return str(self.files[i])
        items = getattr(self.dataset, "items", None)  # a dataset's image file, so skipped.json names what to fix
        if isinstance(items, list) and i < len(items) and isinstance(items[i], dict) and "image" in items[i]:
            return str(items[i]["image"])
        return f"{self.dataset!r}[{i}]"

    def read(self, i: int) -> Item:
        from baiseg.data.io import check_same_size, read_image, read_label_png
        from baiseg.predictor import check_semantic_ids, working_image

        t0 = time.perf_counter()
        item = Item(index=i, image_id=self.files[i].stem if self.dataset is None else str(i), path=self.name(i))
        try:
            if self.dataset is not None:
                s = self.dataset[i]
                item.image_id, item.rgb, item.path = str(s["image_id"]), s["image"], str(s.get("path", item.path))
            else:
                item.rgb = read_image(self.files[i])
        except Exception as e:  # any decoding failure: one line naming the file, never a worker traceback
            item.error = f"cannot read '{item.path}': {_one_line(e)}"
            return item
        try:
            if self.semantic_dir is not None:
                sp = self.semantic_dir / f"{item.image_id}.png"
                if not sp.is_file():
                    raise DataError(f"no semantic PNG '{sp}' for image '{item.image_id}': name them <image id>.png")
                sem = read_label_png(sp)
                check_semantic_ids(sem, self.num_classes, source=f"semantic PNG '{sp}'")
                check_same_size(item.rgb, sem, item.image_id, str(sp))
                item.semantic = sem.astype(np.uint8)
            item.work = working_image(item.rgb, self.max_side)
        except Exception as e:
            item.fatal = _one_line(e)
        item.t_read = time.perf_counter() - t0
        return item


def _one_line(e: BaseException) -> str:
    msg = str(e).strip().splitlines()
    text = msg[0] if msg else ""
    return text if isinstance(e, BaisegError) else f"{type(e).__name__}: {text}"


# ---------------------------------------------------------------------------------------------------------- workers
_READER: _Inputs | None = None  # the inputs, in reader processes


def _worker_init(inputs: _Inputs | None = None) -> None:
    """Pool processes leave Ctrl-C to the main process (which terminates them at once) and use one thread each;
    reader processes get the inputs (pickled once per process)."""
    global _READER
    if inputs is not None:
        _READER = inputs
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        import cv2

        cv2.setNumThreads(1)
    except Exception:  # pragma: no cover
        pass


def _read_job(i: int) -> Item:
    assert _READER is not None
    return _READER.read(i)


@dataclass
class Job:
    """What the MEP / writer process needs for one image (arrays at the working size unless said otherwise)."""

    index: int
    image_id: str
    size: tuple[int, int]  # the original (H, W)
    rgb: np.ndarray  # original image (overlays)
    out: str
    method: str = "baiseg"
    mep: Any = None
    boundary: np.ndarray | None = None  # float32 h x w
    semantic: np.ndarray | None = None  # uint8 h x w (compact ids when ``prob`` is given)
    prob: np.ndarray | None = None  # float32 C x h x w: the probabilities of the classes in ``classes``
    classes: np.ndarray | None = None  # compact id -> semantic id
    image: np.ndarray | None = None  # working image (watershed_on=image only)
    instances: dict | None = None  # precomputed (instance models): only written
    class_names: list[str] = field(default_factory=list)
    category_ids: list[int] = field(default_factory=list)
    overlays: bool = True


def compact_semantics(sem: np.ndarray, sem_prob: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The arg-max map and softmax restricted to the classes present (plus background), ids renumbered in order.

    The MEP and the scores only look at the classes of the semantic map and compare ids for equality and order, so
    the instances are the same as with the full (K + 1)-channel softmax, at a fraction of the bytes sent to a process.

    Returns:
        ``(uint8 h x w compact ids, float32 C x h x w probabilities, int64 C semantic id of each compact id)``.
    """
    counts = np.bincount(sem.ravel(), minlength=256)
    counts[0] = 1  # background always
    present = np.flatnonzero(counts).astype(np.int64)
    lut = np.zeros(256, np.uint8)
    lut[present] = np.arange(present.size, dtype=np.uint8)
    return lut[sem], np.ascontiguousarray(sem_prob[present], dtype=np.float32), present


def mep_and_write(job: Job) -> dict[str, Any]:
    """Run the MEP (unless instances are given), write the PNGs, encode COCO results (in a pool process).

    Returns:
        ``{"index", "records" (COCO results), "n", "t_mep", "t_write"}``.
    """
    from baiseg.postprocess.assembly import to_coco_results
    from baiseg.postprocess.baselines import instances_from_semantic
    from baiseg.predictor import resize_masks

    t0 = time.perf_counter()
    inst = job.instances
    if inst is None:
        inst = instances_from_semantic(job.method, job.semantic, boundary_prob=job.boundary, sem_prob=job.prob,
                                       image=job.image, cfg=job.mep)  # fmt: skip
        if job.classes is not None:
            inst = dict(inst, classes=job.classes[inst["classes"]])
        if job.boundary is not None and job.boundary.shape != tuple(job.size):
            inst = dict(inst, masks=resize_masks(inst["masks"], *job.size))
    t1 = time.perf_counter()
    _write_image_outputs(Path(job.out), job.image_id, inst, job.rgb, job.boundary, job.class_names, job.overlays)
    records = to_coco_results(inst, job.image_id, job.category_ids)
    return {"index": job.index, "records": records, "n": len(records), "t_mep": t1 - t0,
            "t_write": time.perf_counter() - t1}  # fmt: skip


def _write_image_outputs(out: Path, image_id: str, inst: dict, rgb: np.ndarray, boundary: np.ndarray | None,
                         class_names: list[str], overlays: bool) -> None:  # fmt: skip
    from baiseg.fileio import write_png_atomic
    from baiseg.visualize import draw_instances

    masks = inst["masks"]
    n = masks.shape[0]
    ids = np.zeros(rgb.shape[:2], np.uint16 if n > 255 else np.uint8)
    for i in range(n - 1, -1, -1):  # best score drawn last = on top (masks do not overlap anyway)
        ids[masks[i]] = i + 1
    try:
        write_png_atomic(out / "instances" / f"{image_id}.png", ids)
        if boundary is not None:
            b = np.clip(np.round(boundary * 255), 0, 255).astype(np.uint8)
            write_png_atomic(out / "boundary" / f"{image_id}.png", b)
        if overlays:
            write_png_atomic(out / "overlays" / f"{image_id}.png", draw_instances(rgb, inst, class_names))
    except OSError as e:
        raise DataError(f"cannot write the outputs of '{image_id}' in '{out}': {e.strerror or e}") from None


# --------------------------------------------------------------------------------------------------------- outputs
def check_out_dir(out: Path, overwrite: bool) -> None:
    """Refuse an ``--out`` that is a file, holds an earlier predict's outputs (unless ``overwrite``), is not
    writable or has almost no free space. Read-only: nothing is created."""
    if out.exists() and not out.is_dir():
        raise DataError(f"--out '{out}' is a file: give a folder")
    if out.is_dir() and not overwrite:
        old = [n for n in OUTPUT_FILES + OUTPUT_DIRS if (out / n).exists()]
        if old:
            raise DataError(f"--out '{out}' already holds the results of a predict run ({', '.join(old)}): "
                            "give a new folder or add --overwrite")  # fmt: skip
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(f"--out '{out}' is not writable ('{parent}' does not let us create files)")
    free = shutil.disk_usage(parent).free
    if free < MIN_FREE_BYTES:
        raise DataError(f"--out '{out}': only {free / 2**20:.0f} MiB free on its disk (at least "
                        f"{MIN_FREE_BYTES / 2**20:.0f} MiB needed): free space or write elsewhere")  # fmt: skip


def prepare_out_dir(out: Path, overwrite: bool, overlays: bool) -> None:
    """Create the output folders; with ``overwrite`` remove an earlier run's outputs; clean stale temp files."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        if overwrite:
            for n in OUTPUT_FILES:
                (out / n).unlink(missing_ok=True)
            for n in OUTPUT_DIRS:
                if (out / n).is_dir():
                    shutil.rmtree(out / n)
        for sub in OUTPUT_DIRS[:2] + (("overlays",) if overlays else ()):
            (out / sub).mkdir(exist_ok=True)
        probe = out / f".write_probe.{os.getpid()}.probe.tmp"
        probe.write_bytes(b"x")
        probe.unlink()
    except OSError as e:
        raise DataError(f"--out '{out}' cannot be written: {e.strerror or e}") from None
    clean_stale_temps(out, recursive=True)


# ------------------------------------------------------------------------------------------------------------ run
def _validate(args: argparse.Namespace) -> None:
    if args.max_side < 32:
        raise BaisegError(f"--max-side {args.max_side} is too small: give the longer side in pixels (>= 32)")
    for name in ("workers", "mep_workers", "threads"):
        if getattr(args, name) < 0:
            raise BaisegError(f"--{name.replace('_', '-')} {getattr(args, name)} must be >= 0")
    if args.batch < 1:
        raise BaisegError(f"--batch {args.batch} must be >= 1")


def run(args: argparse.Namespace) -> int:
    stats = predict(args)
    if stats.get("rank", 0) == 0:
        print(stats["summary"])
    return 0


def predict(args: argparse.Namespace) -> dict[str, Any]:
    """The whole command; returns the timing statistics (``bench/bench_predict.py`` reads them).

    Returns:
        ``{"images", "instances", "skipped", "wall_s", "img_per_s", "read_s", "network_s", "mep_s", "write_s",
        "rank", "world", "summary"}``; the per-stage seconds are summed over this rank's images (busy time).
    """
    import torch

    from baiseg.config import dump_yaml, mep_with_overrides, to_dict
    from baiseg.engine.distributed import barrier, cleanup
    from baiseg.engine.shard import gather_json_parts, shard_indices, shard_info
    from baiseg.predictor import Predictor

    _validate(args)
    t_start = time.perf_counter()
    out = Path(args.out)
    check_out_dir(out, args.overwrite)  # every rank checks before any rank creates anything
    info = shard_info(args.device)
    try:
        barrier(info)
        if info.is_main:
            prepare_out_dir(out, args.overwrite, not args.no_overlays)
        barrier(info)
        if args.threads:
            torch.set_num_threads(args.threads)
        pred = Predictor.from_pretrained(args.weights, device=str(info.device), max_side=args.max_side,
                                         **({"threads": args.threads} if str(args.weights).endswith(".onnx") and
                                            args.threads else {}))  # fmt: skip
        if args.overrides and hasattr(pred, "with_mep"):
            pred = pred.with_mep(**to_dict(mep_with_overrides(pred.mep, args.overrides)))
        if info.is_main and getattr(pred, "mep", None) is not None:
            write_text_atomic(out / "mep.yaml", dump_yaml(pred.mep))
            print(f"MEP parameters: {to_dict(pred.mep)}")
        inputs = _Inputs(args.input, args.split, args.semantic_dir, len(pred.class_names), args.max_side)
        mine = shard_indices(len(inputs), info.rank, info.world_size)
        stats, results, skipped = _pipeline(args, pred, inputs, mine, out, show=info.is_main and not args.no_progress)
        parts = gather_json_parts(out, "predict", {"results": results, "skipped": skipped, "stats": stats}, info)
    finally:
        cleanup(info)
    if parts is None:  # not rank 0
        return {**stats, "rank": info.rank, "world": info.world_size, "summary": ""}
    merged = sorted((r for p in parts for r in p["results"]), key=lambda r: r[0])
    records = [rec for _, recs in merged for rec in recs]
    skipped_all = [s for p in parts for s in p["skipped"]]
    write_json_atomic(out / "skipped.json", skipped_all, indent=1)
    write_json_atomic(out / "results.json", records)
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


def _pipeline(args: argparse.Namespace, pred: Any, inputs: _Inputs, mine: list[int], out: Path,
              show: bool) -> tuple[dict[str, float], list, list]:  # fmt: skip
    """Read -> batch -> network -> MEP + write, overlapped. Returns (stats, [(index, records)], skipped)."""
    import multiprocessing as mp
    from multiprocessing.pool import ThreadPool

    from tqdm import tqdm

    from baiseg.predictor import NonFiniteOutputError, semantic_input
    from baiseg.preprocess import padded_size

    uses_maps = hasattr(pred, "infer") and getattr(pred, "needs_maps", True)
    # forkserver, not fork: forking a process that runs torch / tqdm threads can deadlock the child
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["baiseg.commands.predict", "baiseg.data", "baiseg.postprocess"])
    readers = ctx.Pool(args.workers, initializer=_worker_init, initargs=(inputs,)) if args.workers > 0 else None
    if args.mep_workers > 0:
        mep_pool = ctx.Pool(args.mep_workers, initializer=_worker_init)
    else:
        mep_pool = ThreadPool(1)
    stats = {"images": 0, "read_s": 0.0, "network_s": 0.0, "mep_s": 0.0, "write_s": 0.0}
    results: list[tuple[int, list]] = []
    skipped: list[dict[str, str]] = []
    pending: deque = deque()  # (item, AsyncResult) in submission order
    bar = tqdm(total=len(mine), desc="predict", unit="img", disable=not show, file=sys.stderr)
    max_pending = 4 * max(args.mep_workers, 1) + args.batch
    ok = False

    def collect(block: bool) -> None:
        while pending and (block or pending[0][1].ready() or len(pending) > max_pending):
            item, fut = pending.popleft()
            r = fut.get()
            results.append((item.index, r["records"]))
            stats["mep_s"] += r["t_mep"]
            stats["write_s"] += r["t_write"]
            stats["images"] += 1
            bar.update(1)

    def submit(item: Item, maps: dict | None, inst: dict | None) -> None:
        job = Job(index=item.index, image_id=item.image_id, size=item.rgb.shape[:2], rgb=item.rgb, out=str(out),
                  class_names=list(pred.class_names), category_ids=list(pred.category_ids),
                  overlays=not args.no_overlays, instances=inst)  # fmt: skip
        if inst is None:
            job.method, job.mep, job.boundary = pred.method, pred.mep, maps["boundary_prob"]
            sem = item.semantic
            if sem is not None and sem.shape != job.boundary.shape:
                import cv2

                sem = cv2.resize(sem, job.boundary.shape[::-1], interpolation=cv2.INTER_NEAREST)
            sem, prob = semantic_input(maps, sem)
            if prob is not None:
                sem, prob, job.classes = compact_semantics(sem, prob)
            job.semantic, job.prob = sem, prob
            if pred.mep.watershed_on == "image":
                job.image = item.work
        elif maps is not None and "boundary_prob" in maps:  # instance models may give no boundary map
            job.boundary = maps["boundary_prob"]
        pending.append((item, mep_pool.apply_async(mep_and_write, (job,))))
        collect(block=False)

    def network(batch: list[Item]) -> None:
        t0 = time.perf_counter()
        if uses_maps:
            try:
                maps_list = pred.infer_batch([it.work for it in batch])
            except NonFiniteOutputError as e:
                ids = ", ".join(f"'{it.path}'" for it in batch)
                raise BaisegError(f"{e} (image {ids}); nothing was written to results.json") from None
            stats["network_s"] += time.perf_counter() - t0
            for it, maps in zip(batch, maps_list):
                submit(it, maps, None)
        else:  # instance models (no maps for the MEP): their own predict_instances, written in the pool
            for it in batch:
                t1 = time.perf_counter()
                inst, maps = pred.predict_instances(it.rgb, semantic=it.semantic)
                stats["network_s"] += time.perf_counter() - t1
                submit(it, maps, dict(inst))

    def reads():
        """Items in order with a bounded read-ahead."""
        window = 2 * max(args.workers, 1) + 2 * args.batch
        if readers is None:
            for i in mine:
                yield inputs.read(i)
            return
        q: deque = deque()
        it = iter(mine)
        for i in it:
            q.append(readers.apply_async(_read_job, (i,)))
            if len(q) >= window:
                yield q.popleft().get()
        while q:
            yield q.popleft().get()

    try:
        groups: dict[tuple[int, int], list[Item]] = {}
        buffered = 0
        for item in reads():
            stats["read_s"] += item.t_read
            if item.fatal:
                raise DataError(item.fatal)
            if item.error:
                if args.on_error == "stop":
                    raise DataError(f"{item.error} (--on-error stop; use --on-error skip to go on without it)")
                print(f"warning: skipped: {item.error}", file=sys.stderr)
                skipped.append({"input": item.path, "error": item.error})
                bar.update(1)
                continue
            key = padded_size(*item.work.shape[:2])
            groups.setdefault(key, []).append(item)
            buffered += 1
            if len(groups[key]) >= args.batch:
                buffered -= len(groups[key])
                network(groups.pop(key))
            elif buffered >= 4 * args.batch:  # too many sizes waiting: run the largest group
                key = max(groups, key=lambda k: len(groups[k]))
                buffered -= len(groups[key])
                network(groups.pop(key))
            collect(block=False)
        for key in list(groups):
            network(groups.pop(key))
        collect(block=True)
        ok = True
    finally:
        bar.close()
        for pool in (readers, mep_pool):
            if pool is None:
                continue
            if ok:
                pool.close()
            else:  # error or Ctrl-C: stop at once, do not wait for queued work
                pool.terminate()
            pool.join()
    return stats, results, skipped
