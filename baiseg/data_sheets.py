"""``data show``: PNG sheets of dataset samples (image, semantic mask, contour label T, instance overlay), drawn with
baiseg/visualize.py; moved out of data/check.py so that the data layer does not import rendering."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from baiseg.data.contour import semantic_contour
from baiseg.fileio import write_png_atomic
from baiseg.visualize import colourise, contour_rgb, draw_ground_truth, sheet


def sample_sheet(sample: dict[str, Any], contour_kwargs: dict[str, Any] | None = None) -> np.ndarray:
    """A 2 x 2 sheet: image | semantic mask / contour label T | instance overlay.

    Returns:
        uint8 (2H) x (2W) x 3 RGB.
    """
    image, sem = sample["image"], sample["semantic"]
    t = semantic_contour(sem, **(contour_kwargs or {}))
    inst = sample["instances"]
    n = "no instance GT" if inst is None else f"{len(inst['classes'])} instances"
    overlay = draw_ground_truth(image, inst, show_labels=False)
    return sheet([image, colourise(sem), contour_rgb(t), overlay], ["image", "semantic", "contour T", n])


def write_sheets(ds: Any, out_dir: str | Path, n: int = 8, contour_kwargs: dict[str, Any] | None = None) -> list[Path]:
    """Write sheets of the first ``n`` samples that load to ``out_dir/<index>_<image id>.png`` (atomically)."""
    out = Path(out_dir)
    written: list[Path] = []
    for i in range(len(ds)):
        if len(written) >= n:
            break
        sample = ds[i]
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", str(sample["image_id"]))
        path = out / f"{i:04d}_{safe}.png"
        write_png_atomic(path, sample_sheet(sample, contour_kwargs))
        written.append(path)
    return written
