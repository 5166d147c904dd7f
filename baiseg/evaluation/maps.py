"""A disk cache of a network's maps per image, so that tuning and result tables run the network once per image.

Each image's maps are stored as ``<folder>/<image_id>.npz``: the boundary probability (float16, working size), the
classes present in the arg-max of the semantic branch and their softmax probabilities (float16). That is all the
MEP and the instance scores read (a mask's class always comes from the arg-max map, so the probabilities of absent
classes are never used), at a fraction of the size of the full (K + 1)-channel softmax. Files are written atomically;
a folder is bound to one weights file and one class list by ``meta.json`` (a mismatch is an error, not a stale hit).
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from baiseg.errors import BaisegError
from baiseg.fileio import write_bytes_atomic, write_json_atomic


def weights_digest(path: str | Path) -> str:
    """SHA-256 (first 16 hex digits) of a weights file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def pack_maps(maps: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``Predictor.infer`` output -> compact arrays (see the module docstring)."""
    prob = maps["sem_prob"]
    present = np.unique(prob.argmax(0)).astype(np.int64)
    return {
        "boundary_prob": maps["boundary_prob"].astype(np.float16),
        "classes": present,
        "class_prob": prob[present].astype(np.float16),
        "num_channels": np.int64(prob.shape[0]),
    }


def unpack_maps(packed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Compact arrays -> ``{"boundary_prob": float32 h x w, "sem_prob": float32 (K + 1) x h x w}`` (absent: 0)."""
    b = packed["boundary_prob"].astype(np.float32)
    prob = np.zeros((int(packed["num_channels"]), *b.shape), np.float32)
    prob[packed["classes"]] = packed["class_prob"].astype(np.float32)
    return {"boundary_prob": b, "sem_prob": prob}


class MapCache:
    """Network maps of one model on one dataset, computed on first use and kept on disk.

    Args:
        folder: cache folder (created).
        predictor: a ``baiseg.predictor.Predictor`` already mapped to the dataset's classes (``for_classes``).
        weights: the weights file the predictor was loaded from (its digest binds the folder).
    """

    def __init__(self, folder: str | Path, predictor: Any, weights: str | Path) -> None:
        self.folder = Path(folder)
        self.predictor = predictor
        meta = {"weights_sha256": weights_digest(weights), "class_names": list(predictor.class_names),
                "max_side": predictor.max_side}  # fmt: skip
        meta_path = self.folder / "meta.json"
        if meta_path.is_file():
            old = json.loads(meta_path.read_text())
            if old != meta:
                raise BaisegError(f"map cache '{self.folder}' belongs to other weights or classes: delete it or "
                                  "choose another --cache folder")  # fmt: skip
        else:
            write_json_atomic(meta_path, meta)

    def maps(self, sample: dict[str, Any]) -> dict[str, np.ndarray]:
        """``{"boundary_prob", "sem_prob"}`` at the working size for a dataset sample (``image``, ``image_id``)."""
        path = self.folder / f"{sample['image_id']}.npz"
        if path.is_file():
            with np.load(path) as z:
                return unpack_maps({k: z[k] for k in z.files})
        maps = self.predictor.infer(self.predictor.working_image(sample["image"]))
        buf = io.BytesIO()
        np.savez_compressed(buf, **pack_maps(maps))
        write_bytes_atomic(path, buf.getvalue())
        return unpack_maps(pack_maps(maps))
