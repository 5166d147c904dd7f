"""COCO results JSON (``[{"image_id", "category_id", "segmentation": RLE, "score"}]``) read back into ``Instances``
(``read_results``: the gate every results file passes; ``results_to_instances``); the writer is
``baiseg.instances.coco_results``.

Image ids: a dataset's ``image_id`` is a string (the file stem). In a results file it is written as an integer when
the stem is all digits (COCO's convention, ``"000000000139"`` -> ``139``), else as the string; reading accepts both.
Category ids are the dataset's ``category_ids`` (semantic id ``k + 1`` <-> ``category_ids[k]``).
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from baiseg.evaluation.common import EvaluationError
from baiseg.fileio import DuplicateKeyError, loads_json_strict, write_json_atomic
from baiseg.instances import Instances


def id_key(image_id: Any) -> str:
    """Canonical form of an image id for matching: digit strings and ints compare by value (``"007" == 7``)."""
    s = str(image_id)
    return str(int(s)) if s.isdigit() else s


def decode_rles(rles: list[dict[str, Any]], height: int, width: int) -> np.ndarray:
    """bool N x H x W masks from RLEs of size ``[height, width]``: compressed (``counts`` str or bytes) or
    uncompressed (``counts`` a list of run lengths), both valid COCO."""
    if not rles:
        return np.zeros((0, height, width), dtype=bool)
    fixed = []
    for r in rles:
        counts = r["counts"]
        if isinstance(counts, list):
            fixed.append(mask_utils.frPyObjects({"size": [int(x) for x in r["size"]], "counts": counts}, height, width))
        else:
            fixed.append({"size": list(r["size"]), "counts": counts.encode("ascii") if isinstance(counts, str)
                          else counts})  # fmt: skip
    return mask_utils.decode(fixed).transpose(2, 0, 1).astype(bool)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def check_result_entry(e: Any, i: int, where: str) -> None:
    """One results entry against the COCO results spec (the gate every results file passes, ``read_results``):
    ``image_id`` an int or a string, ``category_id`` an int, ``score`` a finite number, ``segmentation`` an RLE
    ``{"size": [H, W], "counts": str | list of non-negative ints}`` whose runs add up to H x W.

    Raises:
        EvaluationError: one line naming the entry and the field.
    """
    fields = ("image_id", "category_id", "segmentation", "score")
    missing = [k for k in fields if not isinstance(e, dict) or k not in e]
    if missing:
        raise EvaluationError(f"{where}: entry {i} lacks {missing}: each entry needs image_id, category_id, "
                              "segmentation (RLE) and score")  # fmt: skip
    if not (_is_int(e["image_id"]) or (isinstance(e["image_id"], str) and e["image_id"])):
        raise EvaluationError(f"{where}: entry {i} has image_id {e['image_id']!r}: an integer or a non-empty string")
    if not _is_int(e["category_id"]):
        raise EvaluationError(f"{where}: entry {i} has category_id {e['category_id']!r}: category ids are integers")
    score = e["score"]
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
        raise EvaluationError(
            f"{where}: entry {i} has score {score!r}: scores must be finite numbers (NaN or inf "
            "scores cannot be ranked; check the network output that produced them)"
        )
    seg = e["segmentation"]
    size = seg.get("size") if isinstance(seg, dict) else None
    if not (isinstance(size, list) and len(size) == 2 and all(_is_int(x) and x >= 0 for x in size)
            and "counts" in seg):  # fmt: skip
        raise EvaluationError(f"{where}: entry {i} has a segmentation that is not an RLE "
                              "{'size': [H, W], 'counts': ...} (polygons are not accepted in results)")  # fmt: skip
    counts = seg["counts"]
    if isinstance(counts, list):
        if not all(_is_int(c) and c >= 0 for c in counts) or sum(counts) != size[0] * size[1]:
            raise EvaluationError(f"{where}: entry {i} has an uncompressed RLE whose counts are not non-negative "
                                  f"integers adding up to {size[0]} x {size[1]}")  # fmt: skip
    elif not isinstance(counts, str):
        raise EvaluationError(f"{where}: entry {i} has RLE counts of type {type(counts).__name__}: a string "
                              "(compressed) or a list of integers (uncompressed)")  # fmt: skip
    elif (runs := compressed_runs(counts)) is None or min(runs, default=0) < 0 or sum(runs) != size[0] * size[1]:
        raise EvaluationError(f"{where}: entry {i} has a compressed RLE string that does not decode to runs adding "
                              f"up to {size[0]} x {size[1]} (truncated, empty or of another size)")  # fmt: skip


def compressed_runs(counts: str) -> list[int] | None:
    """The run lengths of a COCO compressed RLE string (6-bit groups from '0', 5 data bits, a continuation bit and a
    sign bit in the last group; from the third run on, each value is a difference to the run two before), or None
    when the string is not one (a character out of range or a value cut short)."""
    runs: list[int] = []
    p = 0
    while p < len(counts):
        x = k = 0
        while True:
            if p >= len(counts):
                return None
            c = ord(counts[p]) - 48
            if not 0 <= c < 64:
                return None
            x |= (c & 0x1F) << (5 * k)
            p, k = p + 1, k + 1
            if not c & 0x20:
                if c & 0x10:
                    x |= -1 << (5 * k)
                break
        runs.append(x + runs[-2] if len(runs) > 2 else x)
    return runs


def write_results(path: str | os.PathLike, results: list[dict[str, Any]]) -> None:
    """Write a results list to a JSON file atomically (temporary file + rename); a score that is not a finite number
    (JSON has no NaN) is an EvaluationError."""
    bad = next((i for i, r in enumerate(results) if not np.isfinite(np.asarray(r.get("score", 0), float)).all()), None)
    if bad is not None:
        raise EvaluationError(f"result {bad} for image '{results[bad].get('image_id')}' has score "
                              f"{results[bad].get('score')!r}: scores must be finite numbers")  # fmt: skip
    write_json_atomic(path, results)


def read_results(path: str | os.PathLike) -> dict[str, list[dict[str, Any]]]:
    """Read a COCO results JSON and group its entries by canonical image id (:func:`id_key`).

    Raises:
        EvaluationError: missing or malformed file, or entries lacking a field.
    """
    p = Path(path)
    if not p.is_file():
        raise EvaluationError(f"results file '{p}' does not exist: give the JSON written by 'baiseg predict'")
    try:
        entries = loads_json_strict(p.read_text(encoding="utf-8-sig"))
    except DuplicateKeyError as e:
        raise EvaluationError(f"results file '{p}': {e}: keep one") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise EvaluationError(f"results file '{p}' is not valid JSON ({e}): give a COCO results list") from None
    except RecursionError:
        raise EvaluationError(f"results file '{p}' nests too deeply to be COCO results: give a results list") from None
    if not isinstance(entries, list):
        raise EvaluationError(f"results file '{p}' must hold a JSON list of results, got {type(entries).__name__}")
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for i, e in enumerate(entries):
        check_result_entry(e, i, f"results file '{p}'")
        grouped[id_key(e["image_id"])].append(e)
    return dict(grouped)


def check_result_ids(path: str | os.PathLike, grouped: dict[str, list], dataset_ids: list[str]) -> None:
    """Raise when a results file names images that are not in the dataset."""
    known = {id_key(i) for i in dataset_ids}
    unknown = sorted(set(grouped) - known)
    if unknown:
        raise EvaluationError(
            f"results file '{path}' has {len(unknown)} image ids not in the dataset (e.g. {unknown[:3]}): "
            "evaluate it against the dataset the predictions were made on"
        )


def results_to_instances(
    entries: list[dict[str, Any]], height: int, width: int, category_ids: list[int] | None = None, image_id: str = "?"
) -> Instances:
    """The instances of one image from its results entries.

    Args:
        entries: results entries of that image.
        height: image height H; every RLE must have size ``[H, W]``.
        width: image width W.
        category_ids: K dataset category ids mapped back to semantic ids 1..K; None takes category ids as semantic ids.
        image_id: used in error messages.

    Returns:
        ``Instances`` (masks bool N x H x W, classes int64 N, scores float32 N), in the entries' order.

    Raises:
        EvaluationError: a mask of another size or an unknown category id.
    """
    if not entries:
        return Instances.empty(height, width)
    lookup = None if category_ids is None else {int(c): k + 1 for k, c in enumerate(category_ids)}
    classes, rles = [], []
    for e in entries:
        seg = e["segmentation"]
        if not isinstance(seg, dict) or "size" not in seg or "counts" not in seg:
            raise EvaluationError(f"result for image '{image_id}' has a segmentation that is not an RLE dict")
        if list(seg["size"]) != [height, width]:
            raise EvaluationError(
                f"result mask for image '{image_id}' has size {list(seg['size'])}, the image is "
                f"{[height, width]}: write masks at the original image resolution"
            )
        cat = int(e["category_id"])
        if lookup is not None and cat not in lookup:
            raise EvaluationError(
                f"result for image '{image_id}' has category_id {cat}, not one of the dataset's "
                f"{sorted(lookup)[:10]}...: use the dataset's category ids"
            )
        classes.append(cat if lookup is None else lookup[cat])
        rles.append(seg)
    return Instances(decode_rles(rles, height, width), np.asarray(classes, dtype=np.int64),
                     np.asarray([float(e["score"]) for e in entries], dtype=np.float32))
