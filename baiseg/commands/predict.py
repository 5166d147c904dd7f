"""``baiseg predict``: instances for an image, a folder of images or a dataset YAML.

Writes to ``--out``: ``results.json`` (COCO results: RLE segmentation, dataset category ids, scores, boxes),
``instances/<id>.png`` (instance ids in score order, 0 = none; 16-bit when more than 255), ``boundary/<id>.png``
(boundary probability x 255), ``overlays/<id>.png`` (coloured instances, contours, class names) and ``mep.yaml`` (the
MEP parameters used).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from baiseg.errors import DataError
from baiseg.fileio import write_json_atomic, write_text_atomic

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("predict", help="instances from images with released weights")
    p.add_argument("--weights", required=True, help="*.safetensors written by 'baiseg train'")
    p.add_argument("--input", required=True, help="an image, a folder of images or a dataset description YAML")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--semantic-dir", default=None, help="external semantic PNGs <image id>.png (ids 0, 1..K, 255)")
    p.add_argument("--split", default=None, help="dataset split when --input is a YAML")
    p.add_argument("--device", default="cpu", help="cpu | cuda")
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers reading images")
    p.add_argument("--mep-workers", type=int, default=0, help="processes running the MEP (0 = in the main process)")
    p.add_argument("--max-side", type=int, default=1024, help="longer side above which images are downscaled")
    p.add_argument("--no-overlays", action="store_true", help="skip overlay PNGs")
    p.add_argument("overrides", nargs="*", help="MEP overrides such as mep.boundary_thr=0.4")
    p.set_defaults(func=run)


def _shipped_dataset(name: str) -> bool:
    """True for a bare name of a dataset YAML under configs/datasets/ (e.g. ``pennfudan_val``)."""
    from baiseg.config import find_named_yaml
    from baiseg.data.spec import DATASETS_DIR

    return not Path(name).exists() and find_named_yaml(name, DATASETS_DIR)[0] is not None


class _Inputs:
    """A map-style dataset over image files or a baiseg dataset: yields (image_id, rgb uint8, semantic or None)."""

    def __init__(self, source: str, split: str | None, semantic_dir: str | None) -> None:
        self.semantic_dir = Path(semantic_dir) if semantic_dir else None
        if self.semantic_dir is not None and not self.semantic_dir.is_dir():
            raise DataError(f"--semantic-dir '{semantic_dir}' is not a folder of <image id>.png files")
        path = Path(source)
        self.dataset = None
        self.files: list[Path] = []
        if path.suffix.lower() in (".yaml", ".yml") or source == "synthetic" or _shipped_dataset(source):
            from baiseg.data import build_dataset

            self.dataset = build_dataset(source, split=split, load_instances=False)
        elif path.is_dir():
            self.files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTS)
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

    def __getitem__(self, i: int) -> tuple[str, np.ndarray, np.ndarray | None]:
        from baiseg.data.io import check_same_size, read_image, read_label_png

        if self.dataset is not None:
            s = self.dataset[i]
            image_id, rgb = str(s["image_id"]), s["image"]
        else:
            image_id, rgb = self.files[i].stem, read_image(self.files[i])
        sem = None
        if self.semantic_dir is not None:
            sp = self.semantic_dir / f"{image_id}.png"
            if not sp.is_file():
                raise DataError(f"no semantic PNG '{sp}' for image '{image_id}': name them <image id>.png")
            sem = read_label_png(sp)
            check_same_size(rgb, sem, image_id, str(sp))
            sem = sem.astype(np.uint8)
        return image_id, rgb, sem


def _identity(x: Any) -> Any:
    return x


def _mep_job(args: tuple) -> dict[str, np.ndarray]:
    from baiseg.postprocess.baselines import instances_from_semantic

    method, sem, boundary, sem_prob, image, cfg = args
    prob = None if sem_prob is None else sem_prob.astype(np.float32)
    return instances_from_semantic(method, sem, boundary_prob=boundary, sem_prob=prob, image=image, cfg=cfg)


def run(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from baiseg.config import dump_yaml, mep_with_overrides, to_dict
    from baiseg.postprocess.assembly import to_coco_results
    from baiseg.predictor import Predictor, semantic_input

    pred = Predictor.from_pretrained(args.weights, device=args.device, max_side=args.max_side)
    if args.overrides:
        pred = pred.with_mep(**to_dict(mep_with_overrides(pred.mep, args.overrides)))
    out = Path(args.out)
    for sub in ("instances", "boundary") + (() if args.no_overlays else ("overlays",)):
        (out / sub).mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "mep.yaml", dump_yaml(pred.mep))
    print(f"MEP parameters: {to_dict(pred.mep)}")
    inputs = _Inputs(args.input, args.split, args.semantic_dir)
    loader = torch.utils.data.DataLoader(
        inputs, batch_size=None, shuffle=False, num_workers=max(args.workers, 0), collate_fn=_identity
    )
    pool = None
    if args.mep_workers > 0:
        import multiprocessing as mp

        pool = mp.get_context("spawn").Pool(args.mep_workers)
    results: list[dict[str, Any]] = []
    pending: list[tuple[str, Any, np.ndarray, dict]] = []

    def done(image_id: str, inst: dict, rgb: np.ndarray, maps: dict) -> None:
        _write_image_outputs(out, image_id, inst, rgb, maps, pred, overlays=not args.no_overlays)
        results.extend(to_coco_results(inst, image_id, pred.category_ids))

    t0 = time.perf_counter()
    try:
        for image_id, rgb, sem in tqdm(loader, total=len(inputs), desc="predict", unit="img"):
            if pool is None or max(rgb.shape[:2]) > pred.max_side:  # large images: in-process (downscaled) path
                inst, maps = pred.predict_instances(rgb, semantic=sem)
                done(image_id, inst, rgb, maps)
                continue
            maps = pred.infer(rgb)
            semantic, sem_prob = semantic_input(maps, sem)
            sem_prob = None if sem_prob is None else sem_prob.astype(np.float16)  # half the bytes sent to the pool
            maps["semantic"] = semantic
            job = (pred.method, semantic, maps["boundary_prob"], sem_prob, rgb, pred.mep)
            pending.append((image_id, pool.apply_async(_mep_job, (job,)), rgb, maps))
            while len(pending) > 4 * args.mep_workers:
                image_id_, fut, rgb_, maps_ = pending.pop(0)
                done(image_id_, fut.get(), rgb_, maps_)
        for image_id_, fut, rgb_, maps_ in pending:
            done(image_id_, fut.get(), rgb_, maps_)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    write_json_atomic(out / "results.json", results)
    elapsed = time.perf_counter() - t0
    print(f"{len(inputs)} images, {len(results)} instances in {elapsed:.1f} s ({len(inputs) / max(elapsed, 1e-9):.2f} "
          f"img/s, reading + network + MEP + writing) -> {out / 'results.json'}")
    return 0


def _write_image_outputs(
    out: Path, image_id: str, inst: dict, rgb: np.ndarray, maps: dict, pred: Any, *, overlays: bool
) -> None:
    from baiseg.fileio import write_png_atomic
    from baiseg.visualize import draw_instances

    masks = inst["masks"]
    n = masks.shape[0]
    ids = np.zeros(rgb.shape[:2], np.uint16 if n > 255 else np.uint8)
    for i in range(n - 1, -1, -1):  # best score drawn last = on top (masks do not overlap anyway)
        ids[masks[i]] = i + 1
    write_png_atomic(out / "instances" / f"{image_id}.png", ids)
    b = np.clip(np.round(maps["boundary_prob"] * 255), 0, 255).astype(np.uint8)
    write_png_atomic(out / "boundary" / f"{image_id}.png", b)
    if overlays:
        write_png_atomic(out / "overlays" / f"{image_id}.png", draw_instances(rgb, inst, pred.class_names))
