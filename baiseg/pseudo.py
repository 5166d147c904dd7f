"""Pseudo instance labels (paper §4.4): instances extracted on the TRAINING images become a COCO instances dataset.

``make_pseudo_labels`` writes into ``out``:

- ``pseudo.json``: COCO instances (``images`` with ``file_name`` relative to the source images' common folder,
  ``annotations`` with compressed-RLE ``segmentation``, ``area``, ``bbox``, ``iscrowd`` 0 and the extraction ``score``,
  ``categories`` of the source dataset with their ids);
- ``pseudo.yaml``: a dataset description (``format: coco``) of that JSON over the original images, which
  ``baiseg data check`` and ``baiseg train`` take as it is;
- ``results.json``: the same instances as COCO results, so that ``baiseg evaluate --data <source> --predictions
  out/results.json`` measures the pseudo labels against the true instances;
- ``pseudo_info.json``: how they were made (weights, method, semantic source, MEP and filter settings, counts, time).

Work is done in chunks of ``chunk`` consecutive images (``out/chunks/NNNNN.json``, each written atomically); a
rerun into the same folder with the same settings skips the chunks that exist, so a killed run continues where it
stopped. Under ``torchrun`` every rank takes chunks ``rank, rank + world, ...`` and rank 0 merges.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from baiseg.errors import BaisegError
from baiseg.fileio import write_json_atomic, write_text_atomic
from baiseg.instances import Instances

METHODS = ("baiseg", "cc", "dtws", "sam")


@dataclass
class PseudoSettings:
    """What defines a set of pseudo labels; a rerun must match the stored one to reuse its chunks.

    Attributes:
        method: ``baiseg`` (network + MEP), ``cc`` or ``dtws`` (the baselines, no network), or ``sam`` (MobileSAM +
            the semantic map, baiseg.sam; GT or folder semantics).
        semantic: ``gt`` (the dataset's masks), ``model`` (the network's semantic branch) or a folder of PNGs.
        weights: the BAISeg weights file (None for cc / dtws on GT or folder semantics).
        score_thr: instances scoring below are dropped.
        min_area_px: instances smaller than this (pixels) are dropped.
        mep: the MEP / baseline parameters.
        sam: the ``SAMConfig`` fields of ``--method sam`` (None for the other methods).
    """

    method: str
    semantic: str
    weights: str | None
    score_thr: float
    min_area_px: int
    mep: dict[str, Any]
    sam: dict[str, Any] | None = None


def check_settings(s: PseudoSettings) -> None:
    """Raise BaisegError for an unusable combination (one line saying what to change)."""
    if s.method not in METHODS:
        raise BaisegError(f"--method {s.method}: choose one of {', '.join(METHODS)}")
    if s.method == "sam" and (s.weights is not None or s.semantic == "model"):
        raise BaisegError("--method sam takes its semantic map from --semantic gt or a folder of PNGs, not from a "
                          "model: drop --weights, or write the model's semantic maps to a folder first")
    if s.semantic not in ("gt", "model") and not Path(s.semantic).is_dir():
        raise BaisegError(f"--semantic '{s.semantic}' is neither gt, model nor an existing folder of PNG label maps")
    if s.weights is None and (s.method == "baiseg" or s.semantic == "model"):
        raise BaisegError(f"--method {s.method} with --semantic {s.semantic} needs BAISeg weights: give --weights W "
                          "(or use --method cc|dtws with --semantic gt)")
    if not 0.0 <= s.score_thr <= 1.0:
        raise BaisegError(f"pseudo score threshold {s.score_thr}: give a number in [0, 1]")
    if s.min_area_px < 0:
        raise BaisegError(f"pseudo minimum area {s.min_area_px}: give a number of pixels >= 0")


def _settings_key(s: PseudoSettings) -> dict[str, Any]:
    d = asdict(s)
    d["weights_sha"] = _sha256(s.weights) if s.weights else None
    d.pop("weights")
    return d


def _sha256(path: str) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def filter_instances(inst: Instances, score_thr: float, min_area_px: int) -> Instances:
    """``inst`` without the instances scoring below ``score_thr`` or smaller than ``min_area_px`` pixels (or empty)."""
    keep = (inst.scores >= score_thr) & (inst.masks.sum(axis=(1, 2)) >= max(min_area_px, 1))
    return inst.select(keep)


def make_pseudo_labels(
    dataset: Any,
    segmenter: Any,
    out: str | os.PathLike,
    settings: PseudoSettings,
    *,
    read: Callable[[int], Any],
    chunk: int = 32,
    rank: int = 0,
    world_size: int = 1,
    barrier: Callable[[], None] | None = None,
    progress: bool = True,
    workers: int = 0,
) -> Path | None:
    """Label every image of ``dataset`` with ``segmenter`` and write the folder described in the module docstring.

    Args:
        dataset: a baiseg dataset (samples with ``image``, ``semantic``, ``image_id``, ``path``; ``class_names``,
            ``category_ids``).
        segmenter: a two-stage segmenter (``baiseg.inference.protocol``), run by ``baiseg.inference.scheduler.run``.
        out: output folder (created).
        settings: recorded in ``pseudo_info.json`` and compared with an existing folder's.
        read: picklable ``index -> Item`` (the image, the semantic map of the chosen source, ``extras["path"]``).
        chunk: images per chunk file (the unit of resumption).
        rank, world_size: this process's share under torchrun.
        barrier: called by every rank before rank 0 merges (None for one process).
        progress: tqdm bar on rank 0.
        workers: processes for the segmenter's ``finish`` (the MEP in parallel with the network; 0: one thread).

    Returns:
        ``out/pseudo.yaml`` on rank 0, None on the other ranks.

    Raises:
        BaisegError: ``out`` holds pseudo labels made with other settings, or is not a writable folder.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BaisegError(f"--out '{out}' is a file: give a folder for the pseudo labels")
    chunks_dir = out / "chunks"
    if rank == 0:
        _prepare_out(out, chunks_dir, settings)
    if barrier is not None:
        barrier()
    n = len(dataset)
    n_chunks = (n + chunk - 1) // chunk
    mine = [c for c in range(rank, n_chunks, world_size) if not (chunks_dir / f"{c:05d}.json").is_file()]
    t0 = time.perf_counter()
    _label_chunks(n, mine, chunk, chunks_dir, segmenter, read, workers, settings, progress and rank == 0)
    if barrier is not None:
        barrier()
    if rank != 0:
        return None
    return _merge(dataset, out, chunks_dir, n_chunks, settings, time.perf_counter() - t0)


def _prepare_out(out: Path, chunks_dir: Path, settings: PseudoSettings) -> None:
    """Create ``chunks_dir`` and stamp ``out/settings.json`` with ``settings`` (rank 0).

    Raises:
        BaisegError: ``out`` holds pseudo labels made with other settings.
    """
    key = _settings_key(settings)
    stamp = out / "settings.json"
    chunks_dir.mkdir(parents=True, exist_ok=True)
    if stamp.is_file():
        old = json.loads(stamp.read_text())
        if old != key:
            diff = sorted(k for k in key if old.get(k) != key[k])
            raise BaisegError(f"'{out}' holds pseudo labels made with other settings ({', '.join(diff)}): "
                              "give another --out, or delete the folder to start again")
    else:
        write_json_atomic(stamp, key)


def _label_chunks(n: int, mine: list[int], chunk: int, chunks_dir: Path, segmenter: Any, read: Callable[[int], Any],
                  workers: int, settings: PseudoSettings, progress: bool) -> None:
    """Label the chunks ``mine`` (``chunk`` of the ``n`` images each) in one scheduler run; each chunk is written
    as ``chunks_dir/NNNNN.json`` as soon as its last image reaches the (ordered) sink."""
    from baiseg.inference.scheduler import run

    indices = [i for c in mine for i in range(c * chunk, min(n, (c + 1) * chunk))]
    records: list[dict[str, Any]] = []

    def sink(p: Any, found: Instances, extras: dict[str, Any]) -> None:
        records.append(_image_record(p, filter_instances(found, settings.score_thr, settings.min_area_px)))
        c = p.index // chunk
        if p.index == min(n, (c + 1) * chunk) - 1:  # the chunk's last image: all of it is in ``records``
            write_json_atomic(chunks_dir / f"{c:05d}.json", records)
            records.clear()

    run(indices, segmenter, sink, read=read, workers=workers, progress="pseudo" if progress else False,
        total=len(indices))  # fmt: skip


def _image_record(p: Any, found: Instances) -> dict[str, Any]:
    """One image's entry of a chunk file: its id, path, size and annotations (from a ``Prepared`` item)."""
    from baiseg.instances import box_xywh

    h, w = p.rgb.shape[:2]
    anns = [{"class": e["category_id"], "score": e["score"], "segmentation": e["segmentation"], "area": int(m.sum()),
             "bbox": box_xywh(b)}
            for e, m, b in zip(found.to_coco(p.image_id), found.masks, found.boxes())]  # fmt: skip
    return {"index": p.index, "image_id": str(p.image_id), "path": str(Path(p.extras["path"]).resolve()),
            "height": int(h), "width": int(w), "anns": anns}


def _merge(dataset: Any, out: Path, chunks_dir: Path, n_chunks: int, settings: PseudoSettings,
           seconds: float) -> Path:
    """Rank 0: all chunks -> pseudo.json, pseudo.yaml, results.json, pseudo_info.json (each atomic)."""
    from baiseg.instances import coco_image_id

    records: list[dict[str, Any]] = []
    for c in range(n_chunks):
        p = chunks_dir / f"{c:05d}.json"
        if not p.is_file():
            raise BaisegError(f"chunk '{p}' is missing after every rank finished: rerun the same command to redo it")
        records.extend(json.loads(p.read_text()))
    records.sort(key=lambda r: r["index"])
    root = Path(os.path.commonpath([str(Path(r["path"]).parent) for r in records]))
    cat_ids = [int(c) for c in dataset.category_ids]
    images, anns, results = [], [], []
    for k, r in enumerate(records, start=1):
        images.append({"id": k, "file_name": str(Path(r["path"]).relative_to(root)), "height": r["height"],
                       "width": r["width"]})
        for a in r["anns"]:
            cat = cat_ids[a["class"] - 1]
            anns.append({"id": len(anns) + 1, "image_id": k, "category_id": cat, "segmentation": a["segmentation"],
                         "area": a["area"], "bbox": a["bbox"], "iscrowd": 0, "score": a["score"]})
            results.append({"image_id": coco_image_id(r["image_id"]), "category_id": cat,
                            "segmentation": a["segmentation"], "score": a["score"]})  # as coco_results: no bbox
    categories = [{"id": c, "name": name} for c, name in zip(cat_ids, dataset.class_names)]
    write_json_atomic(out / "pseudo.json", {"info": {"description": "baiseg pseudo labels"}, "images": images,
                                            "annotations": anns, "categories": categories})
    write_json_atomic(out / "results.json", results)
    rel_root = os.path.relpath(root, out.resolve())
    write_text_atomic(out / "pseudo.yaml", (
        f"# Pseudo instance labels written by 'baiseg pseudo' ({settings.method}, semantic {settings.semantic});\n"
        "# images are read in place from their original folder. Train on them: baiseg train maskrcnn_lite0 "
        f"data.train={out / 'pseudo.yaml'}\n"
        "format: coco\n"
        f"root: {json.dumps(rel_root)}\n"
        "images: .\n"
        f"annotations: {json.dumps(str(Path(os.path.relpath(out.resolve(), root)) / 'pseudo.json'))}\n"
    ))
    info = {"settings": asdict(settings), "images": len(images), "instances": len(anns),
            "images_without_instances": sum(1 for r in records if not r["anns"]),
            "seconds_last_run": round(seconds, 1), "written": time.strftime("%Y-%m-%d %H:%M:%S")}
    write_json_atomic(out / "pseudo_info.json", info, indent=2)
    return out / "pseudo.yaml"
