"""``data check`` (scan a whole dataset, list every problem) and ``data show`` (PNG sheets of samples)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from baiseg.data.contour import semantic_contour
from baiseg.data.io import voc_palette, write_png_atomic
from baiseg.errors import DataError


def check_dataset(ds: Any, *, progress: bool = False) -> dict[str, Any]:
    """Load every sample and collect statistics and problems (a broken sample is listed, not fatal).

    Args:
        ds: a dataset from ``build_dataset``.
        progress: show a tqdm bar on stderr.

    Returns:
        {"dataset", "format", "images" (samples that load), "listed" (samples indexed), "instances" (non-crowd),
        "crowd", "classes" (names of classes present, in class order), "instances_per_class", "problems"
        (strings naming the file and the problem)}.
    """
    problems: list[str] = list(getattr(ds, "problems", []))
    names = list(ds.class_names)
    images = instances = crowd = 0
    present: set[int] = set()
    per_class: Counter[str] = Counter()
    indices = range(len(ds))
    if progress:
        from tqdm import tqdm

        indices = tqdm(indices, desc="checking", unit="img", leave=False)
    for i in indices:
        try:
            sample = ds[i]
        except DataError as e:
            problems.append(str(e))
            continue
        except Exception as e:  # a checker reports, it does not crash on the first malformed record
            rec = getattr(ds, "items", [{}])[i] if hasattr(ds, "items") else {}
            problems.append(f"'{rec.get('image', i)}': unexpected {type(e).__name__}: {e}")
            continue
        images += 1
        sem = sample["semantic"]
        ids = [int(v) for v in np.unique(sem) if 0 < v < 255]
        present.update(ids)
        if sem.size and (sem == 255).all():
            problems.append(f"mask of '{sample['path']}' is entirely ignore (255): nothing to learn from it")
        inst = sample["instances"]
        if inst is not None:
            n_crowd = int(inst["crowd"].sum())
            crowd += n_crowd
            instances += len(inst["classes"]) - n_crowd
            for c, is_crowd in zip(inst["classes"].tolist(), inst["crowd"].tolist()):
                present.add(int(c))
                if not is_crowd:
                    per_class[names[int(c) - 1]] += 1
    return {
        "dataset": str(getattr(getattr(ds, "spec", None), "source", getattr(ds, "source", "?"))),
        "format": getattr(ds, "format", "?"),
        "images": images,
        "listed": len(ds),
        "instances": instances,
        "crowd": crowd,
        "classes": [names[k - 1] for k in sorted(present) if 0 < k <= len(names)],
        "instances_per_class": {n: per_class[n] for n in names if per_class[n]},
        "problems": problems,
    }


def colourise(semantic: np.ndarray) -> np.ndarray:
    """uint8 H x W ids -> uint8 H x W x 3 with the VOC colour map (255 = void colour)."""
    return voc_palette()[semantic.astype(np.uint8)]


def instance_overlay(image: np.ndarray, instances: dict[str, np.ndarray] | None, seed: int = 0) -> np.ndarray:
    """Blend a random colour per instance over the image and draw instance outlines; crowd regions in grey."""
    out = image.astype(np.float32).copy()
    if instances is None:
        return image.copy()
    rng = np.random.default_rng(seed)
    for m, is_crowd in zip(instances["masks"], instances["crowd"]):
        colour = np.array([128, 128, 128], np.float32) if is_crowd else rng.integers(40, 256, 3).astype(np.float32)
        out[m] = 0.45 * out[m] + 0.55 * colour
        edge = cv2.morphologyEx(m.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)).astype(bool)
        out[edge] = colour
    return out.clip(0, 255).astype(np.uint8)


def contour_rgb(t: np.ndarray) -> np.ndarray:
    """T (0/1/255) -> black / white / dark red."""
    rgb = np.zeros((*t.shape, 3), dtype=np.uint8)
    rgb[t == 1] = 255
    rgb[t == 255] = (120, 0, 0)
    return rgb


def _label(panel: np.ndarray, text: str) -> np.ndarray:
    panel = np.ascontiguousarray(panel)
    scale = max(0.4, min(panel.shape[:2]) / 600)
    cv2.putText(panel, text, (5, int(22 * scale) + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(panel, text, (5, int(22 * scale) + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 0), 1, cv2.LINE_AA)
    return panel


def sample_sheet(sample: dict[str, Any], contour_kwargs: dict[str, Any] | None = None) -> np.ndarray:
    """A 2 x 2 sheet: image | semantic mask / contour label T | instance overlay.

    Returns:
        uint8 (2H) x (2W) x 3 RGB.
    """
    image, sem = sample["image"], sample["semantic"]
    t = semantic_contour(sem, **(contour_kwargs or {}))
    inst = sample["instances"]
    n = "no instance GT" if inst is None else f"{len(inst['classes'])} instances"
    top = np.concatenate([_label(image.copy(), "image"), _label(colourise(sem), "semantic")], axis=1)
    bottom = np.concatenate([_label(contour_rgb(t), "contour T"), _label(instance_overlay(image, inst), n)], axis=1)
    return np.concatenate([top, bottom], axis=0)


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
