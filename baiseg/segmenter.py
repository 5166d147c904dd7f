"""What every weights -> instances segmenter shares (``Predictor``: BAISeg network + MEP, predictor.py;
``MaskRCNNPredictor``: rcnn_predictor.py): the class list and its renaming (``for_classes``), the working size
(``max_side``), image decoding and the user-facing ``Instance`` view.

A segmenter implements the two-stage protocol of ``baiseg.inference.protocol`` (``preparer`` / ``prepare``: an
``ImagePreparer`` here; ``forward``; the static ``finish``), which ``baiseg.inference.scheduler.run`` drives over
many images and ``predict_instances(image, semantic=None) -> (Instances, maps dict)`` over one, and the
classmethod ``from_loaded(model, meta, device, **kwargs)`` that ``Predictor.from_pretrained`` calls with the network
and metadata of a weights file (the class the architecture registry names, baiseg/architectures.py). Its
``architecture`` says what it gives (``maps``: boundary and semantic maps; ``exportable``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

import cv2
import numpy as np

from baiseg.architectures import Architecture
from baiseg.errors import BaisegError
from baiseg.inference.protocol import Item, Job, Prepared
from baiseg.instances import Instances

FULL_SIZE = 1 << 30  # a max_side that never shrinks: the image at its own size


@dataclass
class Instance:
    """One predicted instance.

    Attributes:
        mask: bool H x W at the image's size.
        class_id: semantic id 1..K.
        class_name: the class's name.
        score: confidence in [0, 1].
        box: ``(x0, y0, x1, y1)`` in pixels, ``x1``/``y1`` exclusive.
        category_id: the dataset category id used in results JSON files.
    """

    mask: np.ndarray
    class_id: int
    class_name: str
    score: float
    box: tuple[float, float, float, float]
    category_id: int


def as_rgb_uint8(image: np.ndarray | str | os.PathLike) -> np.ndarray:
    """An image path or array (gray, RGB, RGBA; uint8, uint16 or float in [0, 1]) as uint8 H x W x 3 RGB."""
    if isinstance(image, (str, os.PathLike)):
        from baiseg.data.io import read_image

        return read_image(image)
    a = np.asarray(image)
    if a.dtype.kind not in "uif":
        raise BaisegError(f"image array has dtype {a.dtype}: give uint8, uint16 or float in [0, 1] (a bool mask is "
                          "not an image)")  # fmt: skip
    if a.ndim == 3 and a.shape[2] in (2, 4):
        a = a[..., :-1]
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 3) or a.shape[0] == 0 or a.shape[1] == 0:
        raise BaisegError(f"image array has shape {a.shape}: give H x W, H x W x 3 or H x W x 4")
    finite = a.dtype in (np.uint8, np.uint16) or not a.size or np.isfinite(a).all()
    bad = not finite or (a.dtype not in (np.uint8, np.uint16) and a.size and not 0 <= a.min() <= a.max() <= 255)
    if bad:
        raise BaisegError(f"image array ({a.dtype}) has values in [{a.min()}, {a.max()}], outside 0..255: give uint8, "
                          "uint16 or float in [0, 1]")  # fmt: skip
    from baiseg.data.io import to_uint8

    a = to_uint8(a)  # the file decoder's policy: uint16 by its bit depth (12-bit data is not read as a dim 16-bit
    # image), floats in [0, 1] x 255, floats slightly outside [0, 1] refused (read on the 8-bit scale: black)
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    return np.ascontiguousarray(a)


def working_image(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """``rgb`` shrunk (area interpolation) so that its longer side is at most ``max_side``; unchanged otherwise."""
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale >= 1.0:
        return rgb
    size = (max(round(w * scale), 1), max(round(h * scale), 1))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class ImagePreparer:
    """The ``prepare`` stage of the segmenters (picklable, no network: it runs in reader processes).

    Attributes:
        max_side: the longer side of the working image (the image is shrunk above it, area interpolation).
        num_classes: K, to check an external semantic map's ids (0: the map is dropped, ``extras`` gets
            ``semantic_ignored``).
    """

    max_side: int
    num_classes: int = 0

    def __call__(self, item: Item) -> Prepared:
        """``item`` decoded (``as_rgb_uint8``), its semantic map checked, the working image made.

        Raises:
            BaisegError: an unusable image, or a semantic map of another size or with ids above K (one line).
        """
        from baiseg.data.io import check_semantic_ids

        rgb = as_rgb_uint8(item.image)
        h, w = rgb.shape[:2]
        semantic = item.semantic if self.num_classes else None
        if semantic is not None:
            if np.asarray(semantic).shape != (h, w):
                raise BaisegError(f"semantic map {np.asarray(semantic).shape} does not match image {h}x{w}: give "
                                  "one id per pixel")  # fmt: skip
            check_semantic_ids(semantic, self.num_classes)
        extras = dict(item.extras, semantic_ignored=True) if item.semantic is not None and semantic is None else \
            dict(item.extras)  # fmt: skip
        return Prepared(index=item.index, image_id=item.image_id, rgb=rgb, work=working_image(rgb, self.max_side),
                        semantic=semantic, extras=extras)  # fmt: skip


class Segmenter:
    """Base of the segmenters: a network on a device, its class list, the working size.

    Args:
        model: the network (``nn.Module`` or ``OnnxModel``).
        class_names: the K thing classes; category_ids: their result-file ids (default 1..K).
        device: ``auto | cpu | cuda | cuda:N``.
        max_side: images whose longer side exceeds this are shrunk for the network (>= 32).
    """

    architecture: ClassVar[Architecture]

    def __init__(self, model: Any, class_names: list[str], category_ids: list[int] | None = None, *,
                 device: str = "cpu", max_side: int = 1024) -> None:
        import torch

        from baiseg.devices import resolve_device

        self.device = torch.device(resolve_device(device, "device"))
        self.model = model.to(self.device).eval()
        self.class_names = list(class_names)
        self.model_class_names = list(class_names)  # what the network was trained on (see for_classes)
        self.category_ids = list(category_ids) if category_ids else list(range(1, len(self.class_names) + 1))
        self.max_side = int(max_side)
        if self.max_side < 32:
            raise BaisegError(f"max_side={max_side} is too small: give the longer side in pixels (>= 32, e.g. 1024)")
        self._class_map: np.ndarray | None = None  # model semantic id -> our semantic id (see for_classes)

    @property
    def preparer(self) -> ImagePreparer:
        """The picklable ``prepare`` stage (``baiseg.inference.protocol``)."""
        return ImagePreparer(self.max_side, len(self.class_names))

    def prepare(self, item: Item) -> Prepared:
        """Decode and check one input (``preparer(item)``)."""
        return self.preparer(item)

    def forward(self, batch: list[Prepared]) -> list[Job]:
        """The device stage: one ``Job`` per prepared item; implemented by each segmenter."""
        raise NotImplementedError

    @staticmethod
    def finish(job: Job) -> Instances:
        """The CPU stage: instances at ``job.size``; implemented by each segmenter (a static method: pool-safe)."""
        raise NotImplementedError

    def predict_instances(
        self, image: np.ndarray | str | os.PathLike, semantic: np.ndarray | None = None
    ) -> tuple[Instances, dict[str, np.ndarray]]:
        """``(Instances at the image's size, maps dict)`` (docs/ARCHITECTURE.md) of one image:
        ``finish(forward([prepare(image)])[0])``; the maps are the job's extras."""
        job = self.forward([self.prepare(Item(index=0, image_id="image", image=image, semantic=semantic))])[0]
        return type(self).finish(job), job.extras

    def working_image(self, rgb: np.ndarray) -> np.ndarray:
        """The image the network sees: ``rgb`` shrunk so that its longer side is at most ``max_side``."""
        return working_image(rgb, self.max_side)

    def predict(self, image: np.ndarray | str | os.PathLike, semantic: np.ndarray | None = None) -> list[Instance]:
        """Instances of one image, best score first (see ``predict_instances`` for the arguments)."""
        inst, _ = self.predict_instances(image, semantic)
        return self.to_instances(inst)

    def to_instances(self, inst: Instances) -> list[Instance]:
        """The user-facing view of ``Instances``: one ``Instance`` each, in their order."""
        boxes = inst.boxes()
        return [
            Instance(
                mask=m,
                class_id=int(c),
                class_name=self.class_names[int(c) - 1] if 0 < int(c) <= len(self.class_names) else str(int(c)),
                score=float(s),
                box=tuple(float(v) for v in b),
                category_id=int(self.category_ids[int(c) - 1]) if 0 < int(c) <= len(self.category_ids) else int(c),
            )
            for m, c, s, b in zip(inst.masks, inst.classes, inst.scores, boxes, strict=True)
        ]

    def for_classes(self, class_names: list[str], category_ids: list[int] | None = None) -> Segmenter:
        """A copy of this predictor (same model) that reports another class list, matched by name.

        A model trained on COCO's 80 classes can so be evaluated on a VOC-class dataset: each of the model's classes
        maps to the target class of the same name (COCO names are also tried under their VOC names, e.g. ``couch`` ->
        ``sofa``); the others become background. Semantic probabilities of classes mapped together are summed.

        Raises:
            BaisegError: none of the model's classes is in ``class_names``.
        """
        from baiseg.data.classes import COCO_TO_VOC
        from baiseg.weights_io import check_class_meta

        check_class_meta({"class_names": list(class_names), "category_ids": None if category_ids is None else
                          list(category_ids)}, "for_classes")  # K names, K integer ids, none twice
        if list(class_names) == self.class_names and self._class_map is None:
            if not category_ids or [int(c) for c in category_ids] == self.category_ids:
                return self
            new = object.__new__(type(self))
            new.__dict__.update(self.__dict__)
            new.category_ids = [int(c) for c in category_ids]
            return new
        source = self.model_class_names
        target = {n: k + 1 for k, n in enumerate(class_names)}
        ids = [target.get(n, target.get(COCO_TO_VOC.get(n, ""), 0)) for n in source]
        if not any(ids):
            raise BaisegError(
                f"none of the model's classes {source[:5]}... is among {list(class_names)[:5]}...: "
                "use weights trained on these classes"
            )
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._class_map = np.array([0, *ids], dtype=np.int64)
        new.class_names = list(class_names)
        new.category_ids = list(category_ids) if category_ids else list(range(1, len(class_names) + 1))
        return new
