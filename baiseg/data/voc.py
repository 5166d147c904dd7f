"""PASCAL VOC 2012 layout (plus the SBD-augmented ``SegmentationClassAug`` / ``train_aug.txt`` training set).

Layout under ``root``::

    JPEGImages/<id>.jpg
    SegmentationClass/<id>.png        palette PNG, 0 = background, 1..20, 255 = void band along outlines
    SegmentationObject/<id>.png       palette PNG, k = instance k, 255 = void  (evaluation ground truth)
    SegmentationClassAug/<id>.png     index PNG (SBD), used when the split ends in "_aug"
    ImageSets/Segmentation/<split>.txt   (train_aug.txt is searched there, in ImageSets/SegmentationAug/ and in root)

Instances come from ``SegmentationObject``; the class of an object is the majority ``SegmentationClass`` id under it.
Images without a ``SegmentationObject`` PNG (most of train_aug) have ``instances = None``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from baiseg.data.base import BaseDataset
from baiseg.data.classes import VOC_CLASSES
from baiseg.data.io import IMAGE_EXTS, check_same_size, read_label_png
from baiseg.data.spec import DatasetSpec
from baiseg.errors import DataError


def find_image(folder: Path, stem: str) -> Path | None:
    """The image file ``folder/stem.<ext>`` for an extension of ``baiseg.data.io.IMAGE_EXTS`` (either case, the first
    in that order when several exist), or None."""
    for ext in IMAGE_EXTS:
        for e in (ext, ext.upper()):
            p = folder / f"{stem}{e}"
            if p.is_file():
                return p
    return None


class VOCDataset(BaseDataset):
    """VOC 2012 segmentation (``format: voc``); ``split`` is the name of an ImageSets list (default ``train``)."""

    format = "voc"

    def __init__(self, spec: DatasetSpec, *, split: str | None = None, load_instances: bool = True) -> None:
        super().__init__(spec, split=split, load_instances=load_instances)
        self.split = self.split or "train"
        aug = self.split.endswith("_aug")
        image_dir = spec.path("image_dir", default="JPEGImages")
        sem_dir = spec.path("semantic_dir", default="SegmentationClassAug" if aug else "SegmentationClass")
        inst_default = spec.root / "SegmentationObject"
        inst_dir = spec.path("instance_dir", required=False) or (inst_default if inst_default.is_dir() else None)
        self._setup_classes(spec.class_names(VOC_CLASSES))
        ids = spec.id_list() if spec.get("list") is not None else self._split_ids(spec.root, self.split)
        for stem in ids:
            img = find_image(image_dir, stem)
            if img is None:
                self.problems.append(f"image '{image_dir / stem}.jpg' is missing (listed in split '{self.split}')")
                continue
            label = sem_dir / f"{stem}.png"
            if not label.is_file():
                self.problems.append(f"mask '{label}' is missing for image '{img}'")
                continue
            obj = inst_dir / f"{stem}.png" if inst_dir is not None else None
            self.items.append({"image_id": stem, "image": img, "label": label, "object": obj})
        self._finish_index("image")

    def _split_ids(self, root: Path, split: str) -> list[str]:
        candidates = [
            root / "ImageSets" / "Segmentation" / f"{split}.txt",
            root / "ImageSets" / "SegmentationAug" / f"{split}.txt",
            root / f"{split}.txt",
        ]
        for c in candidates:
            if c.is_file():
                from baiseg.data.spec import read_id_list

                return read_id_list(c)
        raise DataError(
            f"{self.spec.source}: split list '{split}.txt' not found in {root}/ImageSets/Segmentation, "
            f"ImageSets/SegmentationAug or {root}: set 'split' to an existing list (train, val, train_aug)"
        )

    def _labels(self, rec: dict[str, Any], image: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
        semantic = read_label_png(rec["label"])
        obj_path = rec["object"]
        if not self.load_instances or obj_path is None or not obj_path.is_file():
            return semantic, None
        objects = read_label_png(obj_path)
        check_same_size(image, objects, str(rec["image"]), str(obj_path))
        check_same_size(image, semantic, str(rec["image"]), str(rec["label"]))
        masks, classes = [], []
        for k in np.unique(objects):
            if k == 0 or k == 255:
                continue
            m = objects == k
            labels = semantic[m]
            labels = labels[(labels != 0) & (labels != 255)]
            if labels.size == 0:
                continue  # an object drawn only over background/void in SegmentationClass: no class to give it
            masks.append(m)
            classes.append(int(np.bincount(labels).argmax()))
        h, w = objects.shape
        return semantic, {
            "masks": np.stack(masks) if masks else np.zeros((0, h, w), dtype=bool),
            "classes": np.asarray(classes, dtype=np.int64),
            "crowd": np.zeros(len(masks), dtype=bool),
        }
