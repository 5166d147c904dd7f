"""``data check``: scan a whole dataset and list every problem (the ``data show`` sheets are drawn by
baiseg/data_sheets.py, above the data layer)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from baiseg.data.contour import semantic_contour
from baiseg.errors import DataError


def check_dataset(
    ds: Any, *, progress: bool = False, contour_kwargs: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Load every sample and collect statistics and problems (a broken sample is listed, not fatal).

    Args:
        ds: a dataset from ``build_dataset``.
        progress: show a tqdm bar on stderr.
        contour_kwargs: options of ``semantic_contour`` (defaults of ``data.contour`` when None); a dataset whose
            contour label T has no contour pixel in any image is a problem (nothing for L_B to learn).

    Returns:
        {"dataset", "format", "images" (samples that load), "listed" (samples indexed), "instances" (non-crowd),
        "crowd", "classes" (names of classes present, in class order), "instances_per_class", "contour_px" (contour
        pixels of T over all images), "problems" (strings naming the file and the problem)}.
    """
    problems: list[str] = list(getattr(ds, "problems", []))
    names = list(ds.class_names)
    images = instances = crowd = 0
    present: set[int] = set()
    per_class: Counter[str] = Counter()
    contour_px = 0
    indices = range(len(ds))
    if progress:
        from tqdm import tqdm

        indices = tqdm(indices, desc="checking", unit="img", leave=False)
    for i in indices:
        try:
            sample = ds[i]
        except DataError as e:
            if str(e) not in problems:
                problems.append(str(e))
            continue
        except Exception as e:  # a checker reports, it does not crash on the first malformed record
            rec = getattr(ds, "items", [{}])[i] if hasattr(ds, "items") else {}
            problems.append(f"'{rec.get('image', i)}': unexpected {type(e).__name__}: {e}")
            continue
        images += 1
        contour_px += _semantic_stats(sample, present, problems, contour_kwargs)
        n_inst, n_crowd = _instance_stats(sample["instances"], names, present, per_class)
        instances, crowd = instances + n_inst, crowd + n_crowd
    problems += [p for p in getattr(ds, "load_problems", []) if p not in problems]  # found while loading samples
    if images and contour_px == 0 and present:
        problems.append(
            f"the contour label T has no contour pixel in any of the {images} images: L_B and L_P would be 0 "
            "(labels drawn with a void band wider than 2 * data.contour.void_fill_px + 1 px? docs/DATA.md)"
        )
    return {
        "dataset": str(getattr(getattr(ds, "spec", None), "source", getattr(ds, "source", "?"))),
        "format": getattr(ds, "format", "?"),
        "images": images,
        "listed": len(ds),
        "instances": instances,
        "crowd": crowd,
        "classes": [names[k - 1] for k in sorted(present) if 0 < k <= len(names)],
        "instances_per_class": {n: per_class[n] for n in names if per_class[n]},
        "contour_px": contour_px,
        "problems": problems,
    }


def _semantic_stats(sample: dict[str, Any], present: set[int], problems: list[str],
                    contour_kwargs: dict[str, Any] | None) -> int:  # fmt: skip
    """Add the sample's class ids to ``present`` and its problems to ``problems``; return its contour pixels of T."""
    sem = sample["semantic"]
    present.update(int(v) for v in np.unique(sem) if 0 < v < 255)
    if sem.size and (sem == 255).all():
        problems.append(f"mask of '{sample['path']}' is entirely ignore (255): nothing to learn from it")
    return int((semantic_contour(sem, **(contour_kwargs or {})) == 1).sum())


def _instance_stats(inst: dict[str, Any] | None, names: list[str], present: set[int],
                    per_class: Counter[str]) -> tuple[int, int]:  # fmt: skip
    """Count a sample's instances (``per_class``: non-crowd ones by class name); return (non-crowd, crowd)."""
    if inst is None:
        return 0, 0
    n_crowd = int(inst["crowd"].sum())
    for c, is_crowd in zip(inst["classes"].tolist(), inst["crowd"].tolist()):
        present.add(int(c))
        if not is_crowd:
            per_class[names[int(c) - 1]] += 1
    return len(inst["classes"]) - n_crowd, n_crowd
