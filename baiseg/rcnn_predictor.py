"""Python API for the refined instance segmenter (Mask R-CNN weights from ``baiseg train maskrcnn_lite0``).

``Predictor.from_pretrained`` returns a ``MaskRCNNPredictor`` when the weights' stored config has
``model.arch: maskrcnn`` (the segmenter the architecture registry names), so user code does not change::

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

from baiseg.architectures import get_architecture
from baiseg.errors import BaisegError
from baiseg.inference.protocol import Item, Job, Prepared
from baiseg.instances import Instances
from baiseg.segmenter import ImagePreparer, Segmenter


class MaskRCNNPredictor(Segmenter):
    """Runs a Mask R-CNN (``baiseg.models.maskrcnn.MaskRCNN``) on single images.

    Args:
        model: the Mask R-CNN module.
        class_names / category_ids: as ``Predictor``.
        mask_thr: soft mask threshold (default: the model config's ``model.rcnn.mask_thr``).
        device: ``cpu`` or ``cuda``.
        max_side: images whose longer side exceeds this are downscaled first (masks are resized back).

    It has no boundary or semantic maps and no MEP (``architecture.maps`` is False): no ``infer``, ``mep`` or
    ``with_mep``; callers ask ``architecture`` instead of testing for them.
    """

    architecture = get_architecture("maskrcnn")
    method = "maskrcnn"

    def __init__(self, model: Any, class_names: list[str], category_ids: list[int] | None = None, *,
                 mask_thr: float = 0.5, device: str = "cpu", max_side: int = 1024) -> None:
        super().__init__(model, class_names, category_ids, device=device, max_side=max_side)
        self.mask_thr = float(mask_thr)
        self._warned_semantic = False

    @classmethod
    def from_loaded(cls, model: Any, meta: dict[str, Any], device: str = "cpu", *, source: str = "",
                    **kwargs: Any) -> MaskRCNNPredictor:
        """A predictor for loaded Mask R-CNN weights (``load_weights``); ``mask_thr`` defaults to the stored
        ``model.rcnn.mask_thr``. The BAISeg-only options (``mep``, ``mep_at``) are ignored; a ``method`` other than
        ``baiseg`` / ``maskrcnn`` is refused (one line naming ``source``)."""
        if kwargs.pop("method", "baiseg") not in ("baiseg", "maskrcnn"):
            raise BaisegError(f"'{source}' holds Mask R-CNN weights, which predict instances themselves: "
                              "drop --method (cc, dtws and sam need a semantic map, not these weights)")
        for key in ("mep", "mep_at"):
            kwargs.pop(key, None)
        kwargs.setdefault("mask_thr", meta["config"].model.rcnn.mask_thr)
        return cls(model, meta["class_names"], meta.get("category_ids"), device=device, **kwargs)

    @property
    def preparer(self) -> ImagePreparer:
        """The ``prepare`` stage; a semantic map is not checked (a Mask R-CNN ignores it)."""
        return ImagePreparer(self.max_side, 0)

    def forward(self, batch: list[Prepared]) -> list[Job]:
        """The Mask R-CNN on each working image (one at a time: torchvision pads a batch to its largest image):
        one job each holding its detections as instances at the working size, mapped by ``for_classes``."""
        import torch

        from baiseg.models.maskrcnn import detections_to_instances

        jobs = []
        for p in batch:
            if p.extras.get("semantic_ignored"):
                self._warn_semantic()
            x = torch.from_numpy(np.ascontiguousarray(p.work.transpose(2, 0, 1))).float().div_(255.0).to(self.device)
            with torch.inference_mode():
                det = self.model([x])[0]
            if not all(bool(torch.isfinite(det[k]).all()) for k in ("boxes", "scores")):
                raise BaisegError("the Mask R-CNN produced NaN or inf values: its weights are broken (retrain it)")
            d = detections_to_instances(det, self.mask_thr)  # torchvision's output, as NumPy: the edge
            inst = Instances(d["masks"], d["classes"], d["scores"])
            if self._class_map is not None:  # for_classes: model class -> target class (0 = drop)
                cls = self._class_map[inst.classes]
                keep = cls > 0
                inst = Instances(inst.masks[keep], cls[keep], inst.scores[keep])
            jobs.append(Job(index=p.index, image_id=p.image_id, size=p.rgb.shape[:2], data={"instances": inst}))
        return jobs

    @staticmethod
    def finish(job: Job) -> Instances:
        """The detections at the image's size (``Instances.resize``: each mask on its own, as Mask R-CNN's masks may
        overlap)."""
        return job.data["instances"].resize(*job.size)

    def predict_instances(
        self, image: np.ndarray | str | os.PathLike, semantic: np.ndarray | None = None
    ) -> tuple[Instances, dict[str, np.ndarray]]:
        """``(Instances at the image's size, {})``: masks bool N x H x W, classes int64 N, scores float32 N,
        best first. ``semantic`` is ignored (a Mask R-CNN needs none; a warning says so once)."""
        item = Item(index=0, image_id="image", image=image, semantic=semantic)
        job = self.forward([self.prepare(item)])[0]
        return self.finish(job), {}

    def _warn_semantic(self) -> None:
        if not self._warned_semantic:
            warnings.warn("a semantic map was given to Mask R-CNN weights, which do not use one: ignored", stacklevel=3)
            self._warned_semantic = True
