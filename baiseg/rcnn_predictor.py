"""Python API for the refined instance segmenter (Mask R-CNN weights from ``baiseg train maskrcnn_lite0``).

``Predictor.from_pretrained`` returns a ``MaskRCNNPredictor`` when the weights' stored config has
``model.arch: maskrcnn``, so user code does not change::

    pred = Predictor.from_pretrained("runs/rcnn-001/best.safetensors")
    for inst in pred.predict("street.jpg"):          # no semantic map needed
        print(inst.class_name, inst.score, inst.box)

Masks of different instances may overlap (each detection's mask is predicted on its own).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from baiseg.errors import BaisegError
from baiseg.predictor import Predictor, as_rgb_uint8


class MaskRCNNPredictor(Predictor):
    """Runs a Mask R-CNN (``baiseg.models.maskrcnn.MaskRCNN``) on single images.

    Args:
        model: the Mask R-CNN module.
        class_names / category_ids: as ``Predictor``.
        mask_thr: soft mask threshold (default: the model config's ``rcnn_mask_thr``).
        device: ``cpu`` or ``cuda``.
        max_side: images whose longer side exceeds this are downscaled first (masks are resized back).
    """

    needs_maps = False  # predict() / evaluate() call predict_instances directly: there are no maps and no MEP
    method = "maskrcnn"

    def __init__(self, model: Any, class_names: list[str], category_ids: list[int] | None = None, *,
                 mask_thr: float = 0.5, device: str = "cpu", max_side: int = 1024, **_: Any) -> None:
        import torch

        from baiseg.config import MEPConfig
        from baiseg.devices import resolve_device

        self.device = torch.device(resolve_device(device, "device"))
        self.model = model.to(self.device).eval()
        self.class_names = list(class_names)
        self.model_class_names = list(class_names)
        self.category_ids = list(category_ids) if category_ids else list(range(1, len(self.class_names) + 1))
        self.mep = MEPConfig()  # unused; kept so that code printing a predictor's settings works unchanged
        self.max_side = int(max_side)
        if self.max_side < 32:
            raise BaisegError(f"max_side={max_side} is too small: give the longer side in pixels (>= 32, e.g. 1024)")
        self.mask_thr = float(mask_thr)
        self._class_map: np.ndarray | None = None
        self._warned_semantic = False

    def infer(self, image: np.ndarray) -> dict[str, np.ndarray]:
        raise BaisegError("Mask R-CNN weights have no boundary or semantic maps: use predict / predict_instances")

    def instances_from_maps(self, *args: Any, **kwargs: Any) -> Any:
        raise BaisegError("Mask R-CNN weights have no boundary or semantic maps: use predict / predict_instances")

    def with_mep(self, **changes: Any) -> MaskRCNNPredictor:
        raise BaisegError("MEP settings do not apply to Mask R-CNN weights (it predicts instances directly)")

    def predict_instances(
        self, image: np.ndarray | str | os.PathLike, semantic: np.ndarray | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """``(instances dict at the image's size, {})``: masks bool N x H x W, classes int64 N, scores float32 N,
        best first. ``semantic`` is ignored (a Mask R-CNN needs none; a warning says so once)."""
        import torch

        from baiseg.models.maskrcnn import detections_to_instances
        from baiseg.postprocess.scale import resize_masks
        from baiseg.predictor import working_image

        if semantic is not None and not self._warned_semantic:
            warnings.warn("a semantic map was given to Mask R-CNN weights, which do not use one: ignored", stacklevel=2)
            self._warned_semantic = True
        rgb = as_rgb_uint8(image)
        h, w = rgb.shape[:2]
        work = working_image(rgb, self.max_side)
        x = torch.from_numpy(np.ascontiguousarray(work.transpose(2, 0, 1))).float().div_(255.0).to(self.device)
        with torch.inference_mode():
            det = self.model([x])[0]
        if not all(bool(torch.isfinite(det[k]).all()) for k in ("boxes", "scores")):
            raise BaisegError("the Mask R-CNN produced NaN or inf values: its weights are broken (retrain it)")
        inst = detections_to_instances(det, self.mask_thr)
        if self._class_map is not None:  # for_classes: model class -> target class (0 = drop)
            cls = self._class_map[inst["classes"]]
            keep = cls > 0
            inst = {"masks": inst["masks"][keep], "classes": cls[keep], "scores": inst["scores"][keep]}
        if work.shape[:2] != (h, w):
            # one mask at a time: the label-map resize assumes disjoint masks, Mask R-CNN's may overlap
            masks = [resize_masks(m[None], h, w) for m in inst["masks"]]
            inst = dict(inst, masks=np.concatenate(masks) if masks else np.zeros((0, h, w), bool))
        return inst, {}

