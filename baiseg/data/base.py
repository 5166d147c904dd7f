"""Common machinery of the dataset formats: class lists and subsets, label validation, sample assembly."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch.utils.data

from baiseg.data.classes import resolve_subset
from baiseg.data.io import check_same_size, read_image
from baiseg.data.spec import DatasetSpec
from baiseg.errors import DataError

log = logging.getLogger(__name__)


class BaseDataset(torch.utils.data.Dataset):
    """A dataset of samples as in docs/ARCHITECTURE.md.

    Subclasses fill ``self.items`` (records with at least ``image_id`` and ``image``, the image path) in their
    constructor, call ``_setup_classes`` and implement ``_labels``. Records that could not be paired at index time
    are left out and described in ``self.problems`` (strings naming the file and the problem).

    Attributes:
        class_names: K thing class names; semantic id of ``class_names[k]`` is ``k + 1``.
        category_ids: K ints written to results JSON files.
        problems: index-time problems (missing files, unknown references); ``data check`` lists them.
        load_problems: problems found while loading samples that do not stop the sample from loading (an instance
            mask file that holds no pixel); ``data check`` lists them too.
        errors: the problems among them that make the labels wrong (an annotation that cannot be attached or
            rasterised, a duplicate id): ``build_dataset`` refuses the dataset unless ``strict=False``.
    """

    format = "base"

    def __init__(self, spec: DatasetSpec, *, split: str | None = None, load_instances: bool = True) -> None:
        self.spec = spec
        self.split = split if split is not None else spec.get("split")
        self.load_instances = load_instances
        self.items: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self.load_problems: list[str] = []
        self.errors: list[str] = []
        self.class_names: list[str] = []
        self.category_ids: list[int] = []
        self._native_k = 0
        self._lut = np.arange(256, dtype=np.uint8)

    # ----------------------------------------------------------------- set-up helpers for subclasses
    def _setup_classes(self, native_names: list[str], native_cat_ids: list[int] | None = None) -> None:
        """Apply the optional ``class_subset`` of the spec to the dataset's native class list."""
        self._native_k = len(native_names)
        cat_ids = native_cat_ids if native_cat_ids is not None else list(range(1, len(native_names) + 1))
        subset = self.spec.get("class_subset")
        if subset is None:
            self.class_names, self.category_ids = list(native_names), list(cat_ids)
            return
        names, mapping = resolve_subset(native_names, subset, self.spec.source)
        lut = np.zeros(256, dtype=np.uint8)
        lut[255] = 255
        for native, new in mapping.items():
            lut[native] = new
        self._lut = lut
        self.class_names = names
        inverse = {new: native for native, new in mapping.items()}
        self.category_ids = [int(cat_ids[inverse[k + 1] - 1]) for k in range(len(names))]

    def _finish_index(self, what: str) -> None:
        """Apply the optional ``list`` file, then fail on an empty dataset."""
        wanted = self.spec.id_list()
        if wanted is not None:
            have = {r["image_id"]: r for r in self.items}
            missing = [w for w in wanted if w not in have]
            for w in missing:  # an error: a typo in the list would silently drop an image (docs/DATA.md)
                msg = f"{self.spec.source}: id '{w}' from the list file has no {what}"
                self.problems.append(msg)
                self.errors.append(msg)
            seen: set[str] = set()
            for w in wanted:
                if w in seen:
                    self.problems.append(f"{self.spec.source}: id '{w}' is listed twice in the list file (kept once)")
                seen.add(w)
            self.items = [have[w] for w in dict.fromkeys(wanted) if w in have]
        from baiseg.instances import id_collisions

        clashes = id_collisions([str(r["image_id"]) for r in self.items], [str(r["image"]) for r in self.items])
        self.problems += clashes
        self.errors += clashes
        if self.problems:
            n = len(self.problems)
            log.warning("%s: %d problem(s) while indexing; run `baiseg data check`", self.spec.source, n)
        if not self.items:
            detail = f" ({self.problems[0]})" if self.problems else ""
            raise DataError(f"dataset '{self.spec.source}' has no usable images{detail}: check its paths and split")

    # ----------------------------------------------------------------- per format
    def _labels(self, rec: dict[str, Any], image: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
        """Return (native semantic ids int H x W, native instances or None). Must be overridden."""
        raise NotImplementedError

    def label_path(self, rec: dict[str, Any]) -> str:
        return str(rec.get("label", rec["image"]))

    # ----------------------------------------------------------------- samples
    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rec = self.items[index]
        image = read_image(rec["image"])
        semantic, instances = self._labels(rec, image)
        check_same_size(image, semantic, str(rec["image"]), self.label_path(rec))
        semantic = self._finish_semantic(semantic, rec)
        if instances is not None:
            instances = self._finish_instances(instances)
        return {
            "image": image,
            "semantic": semantic,
            "instances": instances,
            "image_id": str(rec["image_id"]),
            "path": str(rec["image"]),
        }

    def _finish_semantic(self, semantic: np.ndarray, rec: dict[str, Any]) -> np.ndarray:
        values = np.unique(semantic)
        bad = [int(v) for v in values if not (0 <= v <= self._native_k or v == 255)]
        if bad:
            shown = bad[:8] + (["..."] if len(bad) > 8 else [])
            raise DataError(
                f"mask '{self.label_path(rec)}' has class ids {shown} outside the class list (0 = background, "
                f"1..{self._native_k}, 255 = ignore): fix 'classes' in {self.spec.source} or the mask"
            )
        return self._lut[semantic.astype(np.uint8)]

    def _finish_instances(self, inst: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        classes = np.asarray(inst["classes"], dtype=np.int64)
        if classes.size and (classes.min() < 1 or classes.max() > self._native_k):
            raise DataError(
                f"{self.spec.source}: instance class ids {sorted(set(classes.tolist()))} outside 1..{self._native_k}"
            )
        new = self._lut[classes.astype(np.uint8)].astype(np.int64) if classes.size else classes
        keep = new > 0
        return {
            "masks": np.ascontiguousarray(np.asarray(inst["masks"], dtype=bool)[keep]),
            "classes": new[keep],
            "crowd": np.asarray(inst["crowd"], dtype=bool)[keep],
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(source={self.spec.source!r}, split={self.split!r}, images={len(self)}, "
            f"classes={len(self.class_names)})"
        )
