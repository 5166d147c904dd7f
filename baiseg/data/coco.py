"""COCO instances JSON (``format: coco``) and COCO panoptic JSON + PNGs (``format: coco_panoptic``).

Semantic masks: thing class ids 1..K (categories sorted by COCO id), crowd regions 255, everything else 0
(panoptic stuff and, unless ``unlabeled: ignore``, unlabeled pixels). ``category_ids`` keep COCO's own ids.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from baiseg.data.base import BaseDataset
from baiseg.data.io import read_rgb_ids
from baiseg.data.spec import DatasetSpec
from baiseg.errors import DataError


def load_json(path: Path, keys: tuple[str, ...]) -> dict[str, Any]:
    """Read a COCO-style JSON file that must hold ``keys``."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"annotation file '{path}' cannot be read as JSON ({e}): re-export it") from None
    if not isinstance(data, dict):
        raise DataError(f"annotation file '{path}' must hold a JSON object with {', '.join(keys)}")
    missing = [k for k in keys if k not in data]
    if missing:
        raise DataError(f"annotation file '{path}' lacks the key(s) {', '.join(missing)}: is it the right JSON?")
    return data


def rasterise(segmentation: Any, height: int, width: int, where: str) -> np.ndarray:
    """Polygon list, uncompressed RLE or compressed RLE -> bool H x W."""
    try:
        if isinstance(segmentation, list):
            polys = [p for p in segmentation if len(p) >= 6]
            if not polys:
                return np.zeros((height, width), dtype=bool)
            rle = mask_utils.merge(mask_utils.frPyObjects(polys, height, width))
        elif isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), list):
            rle = mask_utils.frPyObjects(segmentation, *segmentation["size"])
        elif isinstance(segmentation, dict) and "counts" in segmentation:
            rle = dict(segmentation)
            if isinstance(rle["counts"], str):
                rle["counts"] = rle["counts"].encode("ascii")
        else:
            raise TypeError(f"unsupported segmentation type {type(segmentation).__name__}")
        m = mask_utils.decode(rle).astype(bool)
    except (TypeError, ValueError, KeyError, IndexError) as e:
        raise DataError(f"{where}: segmentation cannot be decoded ({e}): it must be polygons or RLE") from None
    if m.shape != (height, width):
        raise DataError(f"{where}: RLE size {list(m.shape)} differs from the image size {[height, width]}")
    return m


class _CocoBase(BaseDataset):
    def _index(self, spec: DatasetSpec, data: dict[str, Any], things: list[dict[str, Any]]) -> dict[int, dict]:
        things = sorted(things, key=lambda c: c["id"])
        self._cat_to_native = {int(c["id"]): k + 1 for k, c in enumerate(things)}
        self._setup_classes([str(c["name"]) for c in things], [int(c["id"]) for c in things])
        self._json = spec.path("annotations", kind="file")
        image_dir = spec.path("images")
        images: dict[int, dict] = {}
        for im in data["images"]:
            if not isinstance(im, dict) or not {"id", "file_name", "height", "width"} <= im.keys():
                self.problems.append(f"'{self._json}': image entry {str(im)[:80]} lacks id/file_name/height/width")
                continue
            p = image_dir / im["file_name"]
            if not p.is_file():
                self.problems.append(f"image '{p}' (id {im['id']} in '{self._json}') is missing")
                continue
            images[int(im["id"])] = {"image_id": Path(im["file_name"]).stem, "image": p, "label": self._json,
                                     "height": int(im["height"]), "width": int(im["width"]), "segs": []}  # fmt: skip
        return images

    def _keep(self, rec: dict[str, Any]) -> bool:
        """``skip_empty``: keep images holding at least one (non-crowd) instance of a kept class."""
        if not self.spec.get("skip_empty", False):
            return True
        natives = [self._cat_to_native.get(int(s["category_id"]), 0) for s in rec["segs"] if not s.get("iscrowd")]
        return any(self._lut[n] > 0 for n in natives if n)


class CocoDataset(_CocoBase):
    """COCO instances JSON: polygons, RLE and crowd regions rasterised to semantic masks and instances."""

    format = "coco"

    def __init__(self, spec: DatasetSpec, *, split: str | None = None, load_instances: bool = True) -> None:
        super().__init__(spec, split=split, load_instances=load_instances)
        data = load_json(spec.path("annotations", kind="file"), ("images", "annotations", "categories"))
        images = self._index(spec, data, list(data["categories"]))
        for ann in data["annotations"]:
            if not isinstance(ann, dict) or not {"image_id", "category_id", "segmentation"} <= ann.keys():
                self.problems.append(f"'{self._json}': annotation {str(ann)[:60]} lacks "
                                     f"image_id/category_id/segmentation")
                continue
            if int(ann["image_id"]) in images:
                images[int(ann["image_id"])]["segs"].append(ann)
        self.items = [r for r in images.values() if self._keep(r)]
        self._finish_index("image")

    def _labels(self, rec: dict[str, Any], image: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
        h, w = rec["height"], rec["width"]
        semantic = np.zeros((h, w), dtype=np.int64)
        masks, classes, crowd = [], [], []
        for ann in sorted(rec["segs"], key=lambda a: (bool(a.get("iscrowd")), -float(a.get("area", 0)))):
            native = self._cat_to_native.get(int(ann["category_id"]))
            where = f"'{self._json}' annotation {ann.get('id')} of image '{rec['image_id']}'"
            if native is None:
                raise DataError(f"{where}: category_id {ann['category_id']} is not in 'categories'")
            m = rasterise(ann["segmentation"], h, w, where)
            if ann.get("iscrowd"):
                semantic[m & (semantic == 0)] = 255
            else:
                semantic[m] = native
            masks.append(m)
            classes.append(native)
            crowd.append(bool(ann.get("iscrowd")))
        if not self.load_instances:
            return semantic, None
        return semantic, {
            "masks": np.stack(masks) if masks else np.zeros((0, h, w), dtype=bool),
            "classes": np.asarray(classes, dtype=np.int64),
            "crowd": np.asarray(crowd, dtype=bool),
        }


class CocoPanopticDataset(_CocoBase):
    """COCO panoptic JSON + PNGs (segment id = R + 256 G + 65536 B); thing classes only, crowd -> 255."""

    format = "coco_panoptic"

    def __init__(self, spec: DatasetSpec, *, split: str | None = None, load_instances: bool = True) -> None:
        super().__init__(spec, split=split, load_instances=load_instances)
        data = load_json(spec.path("annotations", kind="file"), ("images", "annotations", "categories"))
        unlabeled = spec.get("unlabeled", "background")
        if unlabeled not in ("background", "ignore"):
            raise DataError(f"{spec.source}: 'unlabeled' must be 'background' or 'ignore', got {unlabeled!r}")
        self._unlabeled = 0 if unlabeled == "background" else 255
        cats = list(data["categories"])
        self._stuff = {int(c["id"]) for c in cats if not c.get("isthing", 1)}
        images = self._index(spec, data, [c for c in cats if c.get("isthing", 1)])
        mask_dir = spec.path("masks")
        for ann in data["annotations"]:
            if not isinstance(ann, dict) or not {"image_id", "file_name", "segments_info"} <= ann.keys():
                self.problems.append(f"'{self._json}': annotation {str(ann)[:60]} lacks "
                                     f"image_id/file_name/segments_info")
                continue
            rec = images.get(int(ann["image_id"]))
            if rec is None:
                continue
            png = mask_dir / ann["file_name"]
            if not png.is_file():
                self.problems.append(f"panoptic PNG '{png}' for image '{rec['image']}' is missing")
                images.pop(int(ann["image_id"]))
                continue
            rec["label"], rec["segs"], rec["has_ann"] = png, list(ann["segments_info"]), True
        for iid in [i for i, r in images.items() if not r.get("has_ann")]:
            self.problems.append(f"image '{images.pop(iid)['image']}' has no entry in '{self._json}' annotations")
        self.items = [r for r in images.values() if self._keep(r)]
        self._finish_index("image")

    def _labels(self, rec: dict[str, Any], image: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
        ids = read_rgb_ids(rec["label"])
        uniq, inverse = np.unique(ids, return_inverse=True)
        inverse = inverse.reshape(ids.shape)
        seg_value = np.zeros(len(uniq), dtype=np.int64)  # semantic value per unique segment id
        seg_value[uniq == 0] = self._unlabeled
        index_of = {int(u): i for i, u in enumerate(uniq)}
        known = {0}
        masks, classes, crowd = [], [], []
        for s in rec["segs"]:
            sid, cat = int(s["id"]), int(s["category_id"])
            known.add(sid)
            if cat in self._stuff:
                continue
            native = self._cat_to_native.get(cat)
            if native is None:
                raise DataError(f"'{self._json}': segment {sid} of '{rec['label']}' has unknown category_id {cat}")
            i = index_of.get(sid)
            if i is None:
                continue  # a segment listed in the JSON with no pixel in the PNG
            seg_value[i] = 255 if s.get("iscrowd") else native
            if self.load_instances:
                masks.append(inverse == i)
                classes.append(native)
                crowd.append(bool(s.get("iscrowd")))
        stray = [int(u) for u in uniq if int(u) not in known]
        if stray:
            raise DataError(
                f"panoptic PNG '{rec['label']}' holds segment ids {stray[:5]} missing from '{self._json}': "
                "the PNG and the JSON do not belong together"
            )
        semantic = seg_value[inverse]
        if not self.load_instances:
            return semantic, None
        h, w = ids.shape
        return semantic, {
            "masks": np.stack(masks) if masks else np.zeros((0, h, w), dtype=bool),
            "classes": np.asarray(classes, dtype=np.int64),
            "crowd": np.asarray(crowd, dtype=bool),
        }
