"""Folder formats: images + instance-id PNGs (``instance_png``) and images + semantic PNGs (``semantic_png``).

``instance_png`` (the Penn-Fudan layout): ``masks/<stem><mask_suffix>.png`` holds 0 = background and k = instance k.
With one class in ``classes`` every instance has it; with several, ``classes_file`` (a text file, one line
``<image stem> <instance id> <class name>`` per instance, ``#`` comments) gives each instance's class.

``semantic_png``: ``masks/<stem><mask_suffix>.png`` holds class ids (index or palette PNG): 0 = background,
k = ``classes[k - 1]``, 255 = ignore. These datasets have no instance ground truth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from baiseg.data.base import BaseDataset
from baiseg.data.io import IMAGE_EXTS, check_same_size, read_label_png
from baiseg.data.spec import DatasetSpec
from baiseg.errors import DataError


def pair_folders(ds: BaseDataset, image_dir: Path, mask_dir: Path, suffix: str) -> None:
    """Fill ``ds.items`` with (image, mask) pairs matched by file stem; unmatched files become problems."""
    images = sorted(p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_EXTS and not p.name.startswith("."))
    masks = {p.name: p for p in mask_dir.iterdir() if p.suffix.lower() == ".png"}
    used = set()
    for img in images:
        name = f"{img.stem}{suffix}.png"
        if name not in masks:
            ds.problems.append(f"image '{img}' has no mask '{mask_dir / name}'")
            continue
        used.add(name)
        ds.items.append({"image_id": img.stem, "image": img, "label": masks[name]})
    if image_dir.resolve() != mask_dir.resolve():
        for name in sorted(set(masks) - used):
            ds.problems.append(f"mask '{mask_dir / name}' has no image in '{image_dir}'")


class InstancePngDataset(BaseDataset):
    """Images + instance-id PNGs; semantic mask = class of the instance at each pixel."""

    format = "instance_png"

    def __init__(self, spec: DatasetSpec, *, split: str | None = None, load_instances: bool = True) -> None:
        super().__init__(spec, split=split, load_instances=load_instances)
        names = spec.class_names(["object"])
        self._setup_classes(names)
        self._instance_classes: dict[str, dict[int, int]] | None = None
        cf = spec.path("classes_file", kind="file", required=False)
        if cf is not None:
            self._instance_classes = self._read_classes_file(cf, names)
        elif len(names) > 1:
            raise DataError(
                f"{spec.source}: {len(names)} classes but no 'classes_file': add a file of "
                "'<image stem> <instance id> <class name>' lines, or list a single class"
            )
        self._classes_file = cf
        pair_folders(self, spec.path("images"), spec.path("masks"), str(spec.get("mask_suffix", "")))
        self._finish_index("mask")

    @staticmethod
    def _read_classes_file(path: Path, names: list[str]) -> dict[str, dict[int, int]]:
        from baiseg.yamlio import read_text_utf8

        table: dict[str, dict[int, int]] = {}
        for n, line in enumerate(read_text_utf8(path, f"classes file '{path}'", DataError).splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split(maxsplit=2)
            if len(parts) != 3 or not parts[1].isdigit():
                raise DataError(f"classes file '{path}' line {n}: expected '<image stem> <instance id> <class name>'")
            stem, k, name = Path(parts[0]).stem, int(parts[1]), parts[2].strip()
            if name not in names:
                raise DataError(f"classes file '{path}' line {n}: class '{name}' is not in 'classes' {names}")
            classes = table.setdefault(stem, {})
            if k in classes and classes[k] != names.index(name) + 1:  # the last line would win without a word
                raise DataError(f"classes file '{path}' line {n}: instance {k} of '{stem}' was given class "
                                f"'{names[classes[k] - 1]}' on an earlier line and '{name}' here: keep one line")
            classes[k] = names.index(name) + 1
        return table

    def _labels(self, rec: dict[str, Any], image: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
        ids = read_label_png(rec["label"])
        check_same_size(image, ids, str(rec["image"]), str(rec["label"]))
        present = [int(k) for k in np.unique(ids) if k != 0]
        if self._instance_classes is None:
            cls_of = {k: 1 for k in present}
        else:
            table = self._instance_classes.get(rec["image_id"], {})
            missing = [k for k in present if k not in table]
            if missing:
                raise DataError(
                    f"mask '{rec['label']}' has instance ids {missing[:5]} with no class in '{self._classes_file}': "
                    f"add lines '{rec['image_id']} <id> <class name>'"
                )
            cls_of = {k: table[k] for k in present}
        lut = np.zeros(int(ids.max()) + 1 if ids.size else 1, dtype=np.int64)
        for k, c in cls_of.items():
            lut[k] = c
        semantic = lut[ids]
        if not self.load_instances:
            return semantic, None
        h, w = ids.shape
        return semantic, {
            "masks": np.stack([ids == k for k in present]) if present else np.zeros((0, h, w), dtype=bool),
            "classes": np.asarray([cls_of[k] for k in present], dtype=np.int64),
            "crowd": np.zeros(len(present), dtype=bool),
        }


class SemanticPngDataset(BaseDataset):
    """Images + semantic PNGs (ground truth or another model's output); no instance ground truth."""

    format = "semantic_png"

    def __init__(self, spec: DatasetSpec, *, split: str | None = None, load_instances: bool = True) -> None:
        super().__init__(spec, split=split, load_instances=load_instances)
        names = spec.class_names()
        if names is None:
            raise DataError(f"{spec.source}: format 'semantic_png' needs 'classes' (names of mask ids 1..K)")
        self._setup_classes(names)
        pair_folders(self, spec.path("images"), spec.path("masks"), str(spec.get("mask_suffix", "")))
        self._finish_index("mask")

    def _labels(self, rec: dict[str, Any], image: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
        return read_label_png(rec["label"]), None
