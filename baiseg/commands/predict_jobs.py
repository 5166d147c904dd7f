"""The writer stage of ``baiseg predict``, run in the scheduler's pool right after the segmenter's ``finish``
(``baiseg.inference.scheduler.run(after=...)``): an image's PNGs written (instances, boundary map, overlay) and its
COCO results records encoded."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from baiseg.errors import DataError
from baiseg.inference.protocol import Job, Prepared
from baiseg.instances import Instances


@dataclass(frozen=True)
class Writer:
    """Writes one image's outputs into ``out`` (picklable: it travels to the pool).

    Attributes:
        out: the output folder (its ``instances``, ``boundary`` and ``overlays`` folders exist).
        class_names / category_ids: the K classes and their results ids.
        overlays: write ``overlays/<id>.png``.
    """

    out: str
    class_names: list[str] = field(default_factory=list)
    category_ids: list[int] = field(default_factory=list)
    overlays: bool = True

    def __call__(self, prepared: Prepared, job: Job, inst: Instances) -> dict[str, Any]:
        """Write the PNGs of ``prepared`` (the boundary map the MEP used, if any, from ``job.extras``, taken out
        of them so that it does not travel back) and encode the COCO records.

        Returns:
            ``{"records": COCO results entries of the image}``.
        """
        boundary = job.extras.pop("boundary", None)
        job.extras.pop("semantic", None)
        _write_image_outputs(Path(self.out), prepared.image_id, inst, prepared.rgb, boundary,
                             self.class_names, self.overlays)  # fmt: skip
        return {"records": inst.to_coco(prepared.image_id, self.category_ids)}


def _write_image_outputs(out: Path, image_id: str, inst: Instances, rgb: np.ndarray, boundary: np.ndarray | None,
                         class_names: list[str], overlays: bool) -> None:  # fmt: skip
    from baiseg.fileio import write_png_atomic
    from baiseg.visualize import draw_instances

    masks = inst.masks
    n = len(inst)
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
