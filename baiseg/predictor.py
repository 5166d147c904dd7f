"""Python API: released weights -> instances of one image.

```python
from baiseg import Predictor
pred = Predictor.from_pretrained("best.safetensors")
for inst in pred.predict("street.jpg"):                   # or an H x W x 3 uint8 array
    print(inst.class_name, inst.score, inst.box)
pred.predict(image, semantic=my_semantic_ids)             # external semantic map (GT or another segmenter)
```

Large images: when the longer side exceeds ``max_side`` (default 1024 px), the network runs on the image resized
(area interpolation) so that the longer side is ``max_side``. With ``mep_at="image"`` (default) its maps are upsampled
to the original size and the MEP runs there; with ``mep_at="work"`` the MEP runs on the shrunk maps and the instance
masks are resized back (nearest neighbour); see docs/MEP.md "Large-image policy". Inputs are padded to a multiple of
32 for the network and the outputs cropped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from baiseg.config import MEPConfig
from baiseg.data.io import check_semantic_ids  # noqa: F401 (public here too; the check lives with the readers)
from baiseg.errors import BaisegError
from baiseg.instances import mask_boxes
from baiseg.postprocess.scale import (  # noqa: F401 (resize_masks: importable from here as before)
    MEP_AT,
    argmax_channels,
    compact_semantics,
    instances_at_size,
    resize_masks,
)


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
    if a.dtype == np.uint16:
        a = (a.astype(np.float32) / 257.0).round()
    elif a.dtype.kind == "f" and float(a.max(initial=0)) <= 1.0:
        a = a * 255.0
    a = np.clip(a, 0, 255).astype(np.uint8)
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    return np.ascontiguousarray(a)


class Predictor:
    """Runs a BAISeg network and the Mask Extraction Pipeline on single images (CPU or GPU)."""

    def __init__(
        self,
        model: Any,
        class_names: list[str],
        category_ids: list[int] | None = None,
        *,
        mep: MEPConfig | None = None,
        device: str = "cpu",
        max_side: int = 1024,
        method: str = "baiseg",
        mep_at: str = "image",
    ) -> None:
        """Wrap a model (outputs as in docs/ARCHITECTURE.md) with its class list and MEP parameters.

        ``mep_at``: where the MEP runs when the network saw the image shrunk (``max_side``): ``image`` (default,
        chosen on train splits: the maps are upsampled to the image's size, ``baiseg.postprocess.scale``) or ``work``
        (at the shrunk size, faster, masks resized back)."""
        import torch

        from baiseg.devices import resolve_device

        self.device = torch.device(resolve_device(device, "device"))
        self.model = model.to(self.device).eval()
        self.class_names = list(class_names)
        self.model_class_names = list(class_names)  # what the network was trained on (see for_classes)
        self.category_ids = list(category_ids) if category_ids else list(range(1, len(self.class_names) + 1))
        self.mep = mep or MEPConfig()
        self.max_side = int(max_side)
        if self.max_side < 32:
            raise BaisegError(f"max_side={max_side} is too small: give the longer side in pixels (>= 32, e.g. 1024)")
        self.method = method
        if mep_at not in MEP_AT:
            raise BaisegError(f"mep_at='{mep_at}': give one of {', '.join(MEP_AT)}")
        self.mep_at = mep_at
        self._class_map: np.ndarray | None = None  # model semantic id -> our semantic id (see for_classes)
        from baiseg.preprocess import model_input_norm

        self._mean, self._std = model_input_norm(model)

    @classmethod
    def from_pretrained(cls, weights: str | os.PathLike, device: str = "cpu", **kwargs: Any) -> Predictor:
        """Load released weights (``*.safetensors`` from ``baiseg train``) or an exported ``*.onnx`` (``baiseg export``,
        run by onnxruntime on the CPU; ``threads=`` sets its intra-op threads); the MEP config stored with them is
        used unless ``mep=`` is given."""
        if str(weights).lower().endswith(".onnx"):  # exported by 'baiseg export' (baiseg.onnx_backend)
            from baiseg.onnx_backend import load_onnx

            model, meta = load_onnx(weights, threads=kwargs.pop("threads", None))
            kwargs.setdefault("mep", meta["config"].mep)
            return cls(model, meta["class_names"], meta.get("category_ids"), device=device, **kwargs)
        from baiseg.weights_io import load_weights

        kwargs.pop("threads", None)
        model, meta = load_weights(weights, device=device)
        if meta["config"].model.arch == "maskrcnn":  # the refined instance segmenter (baiseg/rcnn_predictor.py)
            from baiseg.rcnn_predictor import MaskRCNNPredictor

            if kwargs.pop("method", "baiseg") not in ("baiseg", "maskrcnn"):
                raise BaisegError(f"'{weights}' holds Mask R-CNN weights, which predict instances themselves: "
                                  "drop --method (cc, dtws and sam need a semantic map, not these weights)")
            kwargs.pop("mep", None)
            kwargs.setdefault("mask_thr", meta["config"].model.rcnn_mask_thr)
            return MaskRCNNPredictor(model, meta["class_names"], meta.get("category_ids"), device=device, **kwargs)
        kwargs.setdefault("mep", meta["config"].mep)
        return cls(model, meta["class_names"], meta.get("category_ids"), device=device, **kwargs)

    def infer(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """Network outputs for one image at the image's own size.

        Args:
            image: uint8 H x W x 3 RGB.

        Returns:
            ``{"boundary_prob": float32 H x W in [0, 1], "sem_prob": float32 (K + 1) x H x W (softmax)}``.

        Raises:
            NonFiniteOutputError: the network gave NaN or inf (corrupt weights, overflow).
        """
        return self.infer_batch([image])[0]

    def infer_batch(self, images: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        """``infer`` for several images in one forward pass (each cropped back to its own size).

        Images of the same size padded to a multiple of 32 (``baiseg.preprocess.padded_size``) give exactly the
        outputs of single images; others are padded to the batch's largest size, which changes the outputs slightly.

        Args:
            images: uint8 H_i x W_i x 3 RGB arrays.

        Returns:
            one ``infer`` dict per image.
        """
        import torch

        from baiseg.preprocess import normalize_pad

        x = normalize_pad(images, self._mean, self._std)
        with torch.inference_mode():
            out = self.model(x.to(self.device))
            res = []
            for i, image in enumerate(images):
                h, w = image.shape[:2]
                bl = out["boundary_logits"][i, 0, :h, :w].float()
                sl = out["sem_logits"][i, :, :h, :w].float().contiguous()  # softmax / aminmax faster on it
                # NaN and inf show in the extremes (aminmax propagates NaN): one pass, no H x W x C mask
                if not all(bool(torch.isfinite(v)) for t in (bl, sl) for v in torch.aminmax(t)):
                    raise NonFiniteOutputError(
                        "the network's output has NaN or inf values: the weights are corrupt or overflow "
                        "(check them with a fresh 'baiseg train' run or re-export)"
                    )
                b = torch.sigmoid(bl)
                p = torch.softmax(sl, dim=0)
                if self._class_map is not None:  # sum the probabilities of the model's classes mapping to one class
                    index = torch.from_numpy(self._class_map).to(p.device)
                    p = torch.zeros((len(self.class_names) + 1, h, w), device=p.device).index_add_(0, index, p)
                res.append({"boundary_prob": b.cpu().numpy(), "sem_prob": p.cpu().numpy()})
        return res

    def predict_instances(
        self, image: np.ndarray | str | os.PathLike, semantic: np.ndarray | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Instances dict (docs/ARCHITECTURE.md) at the original size, and the network maps.

        Args:
            image: path or array (see ``as_rgb_uint8``).
            semantic: optional H x W semantic ids (0 background, 1..K, 255 void) replacing the semantic branch.

        Returns:
            ``(instances, maps)``: ``maps`` holds ``boundary_prob`` and ``sem_prob`` at the working size and
            ``semantic``, the uint8 map the MEP used, at the size it ran (the original with ``mep_at="image"``).
        """
        rgb = as_rgb_uint8(image)
        h, w = rgb.shape[:2]
        if semantic is not None and np.asarray(semantic).shape != (h, w):
            raise BaisegError(
                f"semantic map {np.asarray(semantic).shape} does not match image {h}x{w}: give one id per pixel"
            )
        if semantic is not None:
            check_semantic_ids(semantic, len(self.class_names))
        work = self.working_image(rgb)
        maps = self.infer(work)
        image = rgb if self.mep_at == "image" else work
        inst, sem = self.instances_from_maps(maps, (h, w), semantic=semantic, image=image)
        maps["semantic"] = sem
        return inst, maps

    def working_image(self, rgb: np.ndarray) -> np.ndarray:
        """The image the network sees: ``rgb`` shrunk so that its longer side is at most ``max_side``."""
        return working_image(rgb, self.max_side)

    def instances_from_maps(
        self,
        maps: dict[str, np.ndarray],
        size: tuple[int, int],
        *,
        semantic: np.ndarray | None = None,
        image: np.ndarray | None = None,
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Instances at the original ``size`` (H, W) from network maps at the working size (``infer`` output).

        Args:
            maps: ``{"boundary_prob": float h x w, "sem_prob": float (K + 1) x h x w}`` at the working size.
            size: the original image's ``(H, W)``.
            semantic: optional H x W semantic ids replacing the semantic branch.
            image: uint8 x 3 image at the size the MEP runs (only for ``mep.watershed_on=image``): the original with
                ``mep_at="image"``, the working image with ``mep_at="work"``.

        Returns:
            ``(instances dict at H x W, uint8 semantic map the MEP used, at the size it ran)``.
        """
        sem, prob = semantic_input(maps, semantic)
        classes = None
        if prob is not None and maps["boundary_prob"].shape != tuple(size) and self.mep_at == "image":
            sem, prob, classes = compact_semantics(sem, prob)  # upsample the classes present only
        inst, sem, _ = instances_at_size(self.method, sem, maps["boundary_prob"], size, prob=prob, classes=classes,
                                         mep_at=self.mep_at, image=image, cfg=self.mep)  # fmt: skip
        if classes is not None:
            sem = classes.astype(np.uint8)[sem]
        return inst, sem

    def predict(self, image: np.ndarray | str | os.PathLike, semantic: np.ndarray | None = None) -> list[Instance]:
        """Instances of one image, best score first (see ``predict_instances`` for the arguments)."""
        inst, _ = self.predict_instances(image, semantic)
        return self.to_instances(inst)

    def to_instances(self, inst: dict[str, np.ndarray]) -> list[Instance]:
        """The user-facing view of an instances dict."""
        boxes = mask_boxes(inst["masks"])
        return [
            Instance(
                mask=m,
                class_id=int(c),
                class_name=self.class_names[int(c) - 1] if 0 < int(c) <= len(self.class_names) else str(int(c)),
                score=float(s),
                box=tuple(float(v) for v in b),
                category_id=int(self.category_ids[int(c) - 1]) if 0 < int(c) <= len(self.category_ids) else int(c),
            )
            for m, c, s, b in zip(inst["masks"], inst["classes"], inst["scores"], boxes, strict=True)
        ]

    def for_classes(self, class_names: list[str], category_ids: list[int] | None = None) -> Predictor:
        """A copy of this predictor (same model) that reports another class list, matched by name.

        A model trained on COCO's 80 classes can so be evaluated on a VOC-class dataset: each of the model's classes
        maps to the target class of the same name (COCO names are also tried under their VOC names, e.g. ``couch`` ->
        ``sofa``); the others become background. Semantic probabilities of classes mapped together are summed.

        Raises:
            BaisegError: none of the model's classes is in ``class_names``.
        """
        from baiseg.data.classes import COCO_TO_VOC

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

    def with_mep(self, **changes: Any) -> Predictor:
        """A copy of this predictor (same model) with some MEP parameters changed, checked as a loaded config is.

        Raises:
            ConfigError: an unknown key or a bad value, one line naming it.
        """
        from baiseg.config import mep_with_changes

        mep = mep_with_changes(self.mep, changes, "with_mep")
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.mep = mep
        return new


def working_image(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """``rgb`` shrunk (area interpolation) so that its longer side is at most ``max_side``; unchanged otherwise."""
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale >= 1.0:
        return rgb
    size = (max(round(w * scale), 1), max(round(h * scale), 1))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


class NonFiniteOutputError(BaisegError):
    """The network produced NaN or inf values."""


def semantic_input(maps: dict[str, np.ndarray], semantic: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The semantic map the MEP uses: the external one (ids, probability 1) or the network's arg-max with its softmax.

    Args:
        maps: ``Predictor.infer`` output (``sem_prob`` (K + 1) x H x W).
        semantic: H x W ids (0 background, 1..K, 255 void) or None.

    Returns:
        ``(uint8 H x W ids, float (K + 1) x H x W probabilities or None)``.
    """
    if semantic is None:
        return argmax_channels(maps["sem_prob"]), maps["sem_prob"]
    return np.asarray(semantic).astype(np.uint8), None
