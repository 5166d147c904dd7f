"""COCO instances JSON (``format: coco``) and COCO panoptic JSON + PNGs (``format: coco_panoptic``).

Semantic masks: thing class ids 1..K (categories sorted by COCO id), crowd regions 255, everything else 0
(panoptic stuff and, unless ``unlabeled: ignore``, unlabeled pixels). ``category_ids`` keep COCO's own ids.
"""

from __future__ import annotations

import json
import math
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
    from baiseg.fileio import DuplicateKeyError, loads_json_strict

    try:
        data = loads_json_strict(path.read_text(encoding="utf-8-sig"))
    except DuplicateKeyError as e:
        raise DataError(f"annotation file '{path}': {e}: keep one") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"annotation file '{path}' cannot be read as JSON ({e}): re-export it") from None
    except RecursionError:
        raise DataError(f"annotation file '{path}' nests too deeply to be COCO JSON: re-export it") from None
    if not isinstance(data, dict):
        raise DataError(f"annotation file '{path}' must hold a JSON object with {', '.join(keys)}")
    missing = [k for k in keys if k not in data]
    if missing:
        raise DataError(f"annotation file '{path}' lacks the key(s) {', '.join(missing)}: is it the right JSON?")
    return data


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _flag_problem(ann: dict[str, Any]) -> str | None:
    """What is wrong with an annotation's ``iscrowd`` (0 or 1) or ``area`` (a finite number), or None."""
    crowd, area = ann.get("iscrowd", 0), ann.get("area", 0)
    if not isinstance(crowd, (int, float)) or crowd not in (0, 1):
        return f"has iscrowd {crowd!r}: give 0 or 1"
    if isinstance(area, bool) or not isinstance(area, (int, float)) or not math.isfinite(area):
        return f"has area {area!r}: give a finite number of pixels"
    return None


def segmentation_problem(segmentation: Any, height: int, width: int) -> str | None:
    """Why a COCO segmentation cannot be rasterised for an image of ``height`` x ``width``, or None when it can.

    Polygons must be lists of at least 6 finite numbers (an even count), each coordinate within one image size of
    the image (a far-away vertex makes pycocotools allocate and crash); RLEs must have the image's ``size``.
    """
    if isinstance(segmentation, list):
        if not segmentation:
            return "has an empty polygon list"
        for poly in segmentation:
            if not isinstance(poly, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                     for v in poly):  # fmt: skip
                return f"has a polygon that is not a list of numbers ({str(poly)[:40]})"
            if len(poly) < 6 or len(poly) % 2:
                return f"has a polygon of {len(poly)} coordinates (needs an even count >= 6: 3 points or more)"
            xy = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
            if not np.isfinite(xy).all():
                return "has a polygon with a non-finite coordinate (NaN or inf)"
            lo, hi = xy.min(0), xy.max(0)
            if lo[0] < -width or lo[1] < -height or hi[0] > 2 * width or hi[1] > 2 * height:
                far = xy[np.argmax(np.abs(xy - [width / 2, height / 2]).max(1))]
                return (f"has a polygon vertex ({far[0]:.6g}, {far[1]:.6g}) far outside the {width}x{height} image "
                        "(more than one image size away)")
        return None
    if isinstance(segmentation, dict) and "counts" in segmentation:
        size = segmentation.get("size")
        if not (isinstance(size, list) and len(size) == 2 and all(_is_int(v) for v in size)):
            return f"has an RLE without a valid 'size' [height, width] (got {size!r})"
        if list(size) != [height, width]:
            return f"has an RLE of size {list(size)} but the image is {[height, width]}"
        if not isinstance(segmentation["counts"], (list, str, bytes)):
            return "has RLE 'counts' that are neither a list nor a string"
        return None
    return f"has a segmentation of type {type(segmentation).__name__}: it must be polygons or RLE"


def rasterise(segmentation: Any, height: int, width: int, where: str) -> np.ndarray:
    """Polygon list, uncompressed RLE or compressed RLE -> bool H x W.

    Raises:
        DataError: the segmentation is malformed (``segmentation_problem``) or cannot be decoded.
    """
    problem = segmentation_problem(segmentation, height, width)
    if problem is not None:
        raise DataError(f"{where} {problem}: fix or remove the annotation")
    try:
        if isinstance(segmentation, list):
            rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
        elif isinstance(segmentation.get("counts"), list):
            rle = mask_utils.frPyObjects(segmentation, *segmentation["size"])
        else:
            rle = dict(segmentation)
            if isinstance(rle["counts"], str):
                rle["counts"] = rle["counts"].encode("ascii")
        m = mask_utils.decode(rle).astype(bool)
    except (TypeError, ValueError, KeyError, IndexError) as e:
        raise DataError(f"{where}: segmentation cannot be decoded ({e}): it must be polygons or RLE") from None
    if m.shape != (height, width):
        raise DataError(f"{where}: RLE size {list(m.shape)} differs from the image size {[height, width]}")
    return m


class _CocoBase(BaseDataset):
    """Shared indexing of COCO JSON: categories and images are validated; each inconsistency is a problem that
    ``data check`` lists and an error (``errors``) when the dataset is opened for use."""

    def _error(self, message: str) -> None:
        self.problems.append(message)
        self.errors.append(message)

    def _things(self, cats: list[Any]) -> list[dict[str, Any]]:
        """Categories with an integer id and a non-empty name; the others are errors (an unnamed one is kept under
        a placeholder name so that ``data check`` can go on)."""
        out, seen = [], set()
        for c in cats:
            if not isinstance(c, dict) or not _is_int(c.get("id")):
                self._error(f"'{self._json}': category {str(c)[:60]} has no integer 'id'")
                continue
            if int(c["id"]) in seen:
                self._error(f"'{self._json}': category id {c['id']} appears twice in 'categories'")
                continue
            seen.add(int(c["id"]))
            name = c.get("name")
            if not isinstance(name, str) or not name.strip():
                self._error(f"'{self._json}': category id {c['id']} has no name (got {name!r}): give it a 'name'")
                c = {**c, "name": f"category_{c['id']}"}
            out.append(c)
        return out

    def _index(self, spec: DatasetSpec, data: dict[str, Any], things: list[dict[str, Any]]) -> dict[int, dict]:
        things = sorted(things, key=lambda c: c["id"])
        self._cat_to_native = {int(c["id"]): k + 1 for k, c in enumerate(things)}
        self._setup_classes([str(c["name"]) for c in things], [int(c["id"]) for c in things])
        image_dir = spec.path("images")
        images: dict[int, dict] = {}
        for im in data["images"]:
            if not isinstance(im, dict) or not {"id", "file_name", "height", "width"} <= im.keys():
                self._error(f"'{self._json}': image entry {str(im)[:80]} lacks id/file_name/height/width")
                continue
            if not _is_int(im["id"]):
                self._error(f"'{self._json}': image '{im['file_name']}' has id {im['id']!r}: COCO image ids are "
                            "integers")  # fmt: skip
                continue
            if not (_is_int(im["height"]) and _is_int(im["width"]) and im["height"] > 0 and im["width"] > 0):
                self._error(f"'{self._json}': image '{im['file_name']}' has height/width {im['height']!r}/"
                            f"{im['width']!r}: they must be positive integers")  # fmt: skip
                continue
            iid = int(im["id"])
            if iid in images:
                self._error(f"'{self._json}': image id {iid} is used by both '{images[iid]['file_name']}' and "
                            f"'{im['file_name']}': image ids must be unique")  # fmt: skip
                continue
            p = image_dir / str(im["file_name"])
            if not p.is_file():
                self.problems.append(f"image '{p}' (id {iid} in '{self._json}') is missing")
                images[iid] = {"missing": True, "file_name": im["file_name"]}
                continue
            images[iid] = {"image_id": Path(im["file_name"]).stem, "image": p, "label": self._json,
                           "file_name": im["file_name"], "height": int(im["height"]), "width": int(im["width"]),
                           "segs": []}  # fmt: skip
        return images

    def _image_of(self, ann: dict[str, Any], images: dict[int, dict], what: str) -> dict[str, Any] | None:
        """The image record an annotation refers to; an unknown or non-integer image id is an error."""
        iid = ann["image_id"]
        if not _is_int(iid):
            self._error(f"'{self._json}': {what} has image_id {iid!r}: COCO image ids are integers")
            return None
        rec = images.get(int(iid))
        if rec is None:
            self._error(f"'{self._json}': {what} refers to image id {iid}, which is not in 'images'")
            return None
        return None if rec.get("missing") else rec

    @staticmethod
    def _present(images: dict[int, dict]) -> dict[int, dict]:
        return {i: r for i, r in images.items() if not r.get("missing")}

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
        self._json = spec.path("annotations", kind="file")
        data = load_json(self._json, ("images", "annotations", "categories"))
        images = self._index(spec, data, self._things(list(data["categories"])))
        for ann in data["annotations"]:
            if not isinstance(ann, dict) or not {"image_id", "category_id", "segmentation"} <= ann.keys():
                self._error(f"'{self._json}': annotation {str(ann)[:60]} lacks image_id/category_id/segmentation")
                continue
            what = f"annotation {ann.get('id')}"
            rec = self._image_of(ann, images, what)
            if rec is None:
                continue
            if not _is_int(ann["category_id"]) or int(ann["category_id"]) not in self._cat_to_native:
                self._error(f"'{self._json}': {what} of image '{rec['image']}' has category_id "
                            f"{ann['category_id']!r}, which is not in 'categories'")  # fmt: skip
                continue
            problem = segmentation_problem(ann["segmentation"], rec["height"], rec["width"]) or _flag_problem(ann)
            if problem is not None:
                self._error(f"'{self._json}': {what} of image '{rec['image']}' {problem}")
                continue
            rec["segs"].append(ann)
        self.items = [r for r in self._present(images).values() if self._keep(r)]
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
        self._json = spec.path("annotations", kind="file")
        data = load_json(self._json, ("images", "annotations", "categories"))
        unlabeled = spec.get("unlabeled", "background")
        if unlabeled not in ("background", "ignore"):
            raise DataError(f"{spec.source}: 'unlabeled' must be 'background' or 'ignore', got {unlabeled!r}")
        self._unlabeled = 0 if unlabeled == "background" else 255
        cats = self._things(list(data["categories"]))
        self._stuff = {int(c["id"]) for c in cats if not c.get("isthing", 1)}
        images = self._index(spec, data, [c for c in cats if c.get("isthing", 1)])
        mask_dir = spec.path("masks")
        for ann in data["annotations"]:
            if not isinstance(ann, dict) or not {"image_id", "file_name", "segments_info"} <= ann.keys():
                self._error(f"'{self._json}': annotation {str(ann)[:60]} lacks image_id/file_name/segments_info")
                continue
            rec = self._image_of(ann, images, f"annotation '{ann['file_name']}'")
            if rec is None:
                continue
            png = mask_dir / ann["file_name"]
            if not png.is_file():
                self.problems.append(f"panoptic PNG '{png}' for image '{rec['image']}' is missing")
                rec["missing"] = True
                continue
            rec["label"], rec["segs"], rec["has_ann"] = png, list(ann["segments_info"]), True
        images = self._present(images)
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
