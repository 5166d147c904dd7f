"""The MEP / writer stage of ``baiseg predict``, run in a process pool: one ``Job`` per image in, its COCO records
and timings out, its PNGs written (instances, boundary map, overlay)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from baiseg.errors import DataError


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
    mep_at: str = "image"  # where the MEP runs when h x w differs from size (baiseg.postprocess.scale)
    boundary: np.ndarray | None = None  # float32 h x w
    semantic: np.ndarray | None = None  # uint8: h x w compact ids with ``prob``, else an external H x W map
    prob: np.ndarray | None = None  # float32 C x h x w: the probabilities of the classes in ``classes``
    classes: np.ndarray | None = None  # compact id -> semantic id
    image: np.ndarray | None = None  # image at the MEP's size (watershed_on=image only)
    instances: dict | None = None  # precomputed (instance models): only written
    class_names: list[str] = field(default_factory=list)
    category_ids: list[int] = field(default_factory=list)
    overlays: bool = True


def mep_and_write(job: Job) -> dict[str, Any]:
    """Run the MEP (unless instances are given), write the PNGs, encode COCO results (in a pool process).

    Returns:
        ``{"index", "records" (COCO results), "n", "t_mep", "t_write"}``.
    """
    from baiseg.instances import coco_results
    from baiseg.postprocess.scale import instances_at_size

    t0 = time.perf_counter()
    inst, boundary = job.instances, job.boundary
    if inst is None:
        inst, _, boundary = instances_at_size(job.method, job.semantic, job.boundary, tuple(job.size), prob=job.prob,
                                              classes=job.classes, mep_at=job.mep_at, image=job.image,
                                              cfg=job.mep)  # fmt: skip
    t1 = time.perf_counter()
    _write_image_outputs(Path(job.out), job.image_id, inst, job.rgb, boundary, job.class_names, job.overlays)
    records = coco_results(inst, job.image_id, job.category_ids)
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
