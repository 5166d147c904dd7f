"""``instance_folders``: a folder per image, one binary mask file per instance (the Kaggle DSB 2018 layout).

Layout under ``root`` (the names of the two sub-folders are the keys ``image_subdir`` / ``mask_subdir``)::

    <id>/images/<id>.png          the image (any mode read_image takes: RGBA, RGB, grayscale, 16-bit)
    <id>/masks/<anything>.png     one file per instance: non-zero pixels = the instance

With several names in ``classes``, the masks of class ``c`` are in ``<id>/masks/<c>/`` instead (one sub-folder per
class; files directly in ``masks/`` are then a problem). The image id is the folder name, unique by construction.
Overlapping instance masks are kept as they are (COCO allows them); the semantic mask is their union, and a pixel
claimed by instances of two classes is set to 255 (ignore).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from baiseg.data.base import BaseDataset
from baiseg.data.io import IMAGE_EXTS, read_label_png
from baiseg.data.spec import DatasetSpec
from baiseg.errors import DataError


def _files(folder: Path, exts: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in exts
                  and not p.name.startswith("."))  # fmt: skip


class InstanceFoldersDataset(BaseDataset):
    """A folder per image with one mask PNG per instance (module docstring)."""

    format = "instance_folders"

    def __init__(self, spec: DatasetSpec, *, split: str | None = None, load_instances: bool = True) -> None:
        super().__init__(spec, split=split, load_instances=load_instances)
        names = spec.class_names(["object"])
        self._setup_classes(names)
        self._multi = len(names) > 1
        self._names = names
        image_sub = str(spec.get("image_subdir", "images"))
        mask_sub = str(spec.get("mask_subdir", "masks"))
        root = spec.root
        wanted = spec.id_list()
        folders = [root / w for w in dict.fromkeys(wanted)] if wanted is not None else sorted(
            p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )
        for folder in folders:
            if not folder.is_dir():
                continue  # reported by _finish_index as an id of the list file with no image
            img_dir = folder / image_sub
            if not img_dir.is_dir():
                self.problems.append(f"folder '{folder}' has no '{image_sub}/' sub-folder: it is not an image folder")
                continue
            images = _files(img_dir, IMAGE_EXTS)
            if len(images) != 1:
                what = "no image" if not images else f"{len(images)} images ({', '.join(p.name for p in images[:3])})"
                self.problems.append(f"folder '{img_dir}' holds {what}: it must hold exactly one image")
                continue
            mask_dir = folder / mask_sub
            if not mask_dir.is_dir():
                self.problems.append(f"image '{images[0]}' has no '{mask_sub}/' folder beside it (no instances)")
                continue
            self.items.append({"image_id": folder.name, "image": images[0], "label": mask_dir})
        self._finish_index(f"folder with an '{image_sub}/' image and a '{mask_sub}/' folder")

    def _mask_files(self, mask_dir: Path) -> list[tuple[Path, int]]:
        """(mask file, native class id) of every instance of one image."""
        if not self._multi:
            return [(p, 1) for p in _files(mask_dir, (".png",))]
        loose = _files(mask_dir, (".png",))
        if loose:
            raise DataError(
                f"'{loose[0]}' is directly in '{mask_dir}', but {self.spec.source} lists {len(self._names)} classes: "
                f"put each class's masks in '{mask_dir}/<class name>/' ({', '.join(self._names)})"
            )
        out = []
        for sub in sorted(p for p in mask_dir.iterdir() if p.is_dir()):
            if sub.name not in self._names:
                raise DataError(f"mask folder '{sub}' is not a class of {self.spec.source} ({', '.join(self._names)})")
            out += [(p, self._names.index(sub.name) + 1) for p in _files(sub, (".png",))]
        return out

    def _labels(self, rec: dict[str, Any], image: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
        h, w = image.shape[:2]
        semantic = np.zeros((h, w), np.int64)
        masks, classes = [], []
        for path, cls in self._mask_files(rec["label"]):
            m = read_label_png(path)
            if m.shape != (h, w):
                raise DataError(
                    f"mask '{path}' is {m.shape[0]}x{m.shape[1]} but image '{rec['image']}' is {h}x{w}: "
                    "every instance mask must have its image's size"
                )
            m = m > 0
            if not m.any():  # an empty mask file is no instance; data check lists it (the user may have lost one)
                msg = f"mask '{path}' holds no pixel: it is no instance (draw the instance, or remove the file)"
                if msg not in self.load_problems:
                    self.load_problems.append(msg)
                continue
            clash = m & (semantic > 0) & (semantic != cls)
            semantic[m] = cls
            semantic[clash] = 255
            masks.append(m)
            classes.append(cls)
        if not self.load_instances:
            return semantic, None
        return semantic, {
            "masks": np.stack(masks) if masks else np.zeros((0, h, w), bool),
            "classes": np.asarray(classes, np.int64),
            "crowd": np.zeros(len(masks), bool),
        }
