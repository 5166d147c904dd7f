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
from typing import Any

import numpy as np

from baiseg.architectures import get_architecture, resolve
from baiseg.config import MEPConfig
from baiseg.errors import BaisegError
from baiseg.inference.protocol import Item, Job, Prepared
from baiseg.instances import Instances
from baiseg.postprocess.scale import MEP_AT, argmax_channels, compact_semantics, instances_at_size
from baiseg.segmenter import Segmenter

PRETRAINED_OPTIONS = ("mep", "max_side", "method", "mep_at", "threads", "mask_thr")  # of either segmenter


class Predictor(Segmenter):
    """Runs a BAISeg network and the Mask Extraction Pipeline on single images (CPU or GPU); ``from_pretrained``
    loads any weights and returns the segmenter of their architecture (baiseg/architectures.py)."""

    architecture = get_architecture("baiseg")

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
        super().__init__(model, class_names, category_ids, device=device, max_side=max_side)
        self.mep = mep or MEPConfig()
        self.method = method
        if mep_at not in MEP_AT:
            raise BaisegError(f"mep_at='{mep_at}': give one of {', '.join(MEP_AT)}")
        self.mep_at = mep_at
        from baiseg.preprocess import model_input_norm

        self._mean, self._std = model_input_norm(model)

    @classmethod
    def from_pretrained(cls, weights: str | os.PathLike, device: str = "cpu", **kwargs: Any) -> Segmenter:
        """Load released weights (``*.safetensors`` from ``baiseg train``) or an exported ``*.onnx`` (``baiseg export``,
        run by onnxruntime on the CPU; ``threads=`` sets its intra-op threads).

        Returns:
            the segmenter the architecture registry names for the weights' ``model.arch``: a ``Predictor`` for
            BAISeg (the MEP config stored with the weights is used unless ``mep=`` is given), a
            ``MaskRCNNPredictor`` for Mask R-CNN weights.
        """
        unknown = sorted(set(kwargs) - set(PRETRAINED_OPTIONS))
        if unknown:  # before loading: was a TypeError from __init__ after the weights were read
            raise BaisegError(f"Predictor.from_pretrained: unknown option(s) {unknown}: the options are "
                              f"{', '.join(PRETRAINED_OPTIONS)}")  # fmt: skip
        if str(weights).lower().endswith(".onnx"):  # exported by 'baiseg export' (baiseg.onnx_backend)
            from baiseg.onnx_backend import load_onnx

            model, meta = load_onnx(weights, threads=kwargs.pop("threads", None))
            return Predictor.from_loaded(model, meta, device, source=str(weights), **kwargs)
        from baiseg.weights_io import load_weights

        kwargs.pop("threads", None)
        model, meta = load_weights(weights, device=device)
        segmenter = resolve(get_architecture(meta["config"].model.arch).segmenter)
        return segmenter.from_loaded(model, meta, device, source=str(weights), **kwargs)

    @classmethod
    def from_loaded(cls, model: Any, meta: dict[str, Any], device: str = "cpu", *, source: str = "",
                    **kwargs: Any) -> Predictor:
        """A predictor for a loaded network and its metadata (``load_weights`` / ``load_onnx``); ``kwargs`` as
        ``__init__`` (``mep`` defaults to the stored config's)."""
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
        from baiseg.segmenter import as_rgb_uint8

        if not len(images):
            return []
        images = [as_rgb_uint8(im) for im in images]  # gray, RGBA, uint16 and floats as predict_instances takes them
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

    def forward(self, batch: list[Prepared]) -> list[Job]:
        """The network on a batch of prepared images (``infer_batch`` on their working images), one MEP job each.

        Raises:
            NonFiniteOutputError: the network gave NaN or inf.
        """
        maps = self.infer_batch([p.work for p in batch])
        return [self.job_from_maps(m, p.rgb.shape[:2], semantic=p.semantic,
                                   image=p.rgb if self.mep_at == "image" else p.work, index=p.index,
                                   image_id=p.image_id) for p, m in zip(batch, maps, strict=True)]  # fmt: skip

    def job_from_maps(self, maps: dict[str, np.ndarray], size: tuple[int, int], *, semantic: np.ndarray | None = None,
                      image: np.ndarray | None = None, index: int = 0, image_id: str = "image") -> Job:
        """The MEP job of one image from its network maps at the working size (``infer`` output).

        Args:
            maps: ``{"boundary_prob": float h x w, "sem_prob": float (K + 1) x h x w}`` at the working size.
            size: the original image's ``(H, W)``.
            semantic: optional H x W semantic ids replacing the semantic branch.
            image: uint8 x 3 image at the size the MEP runs (kept only for ``mep.watershed_on=image``): the original
                with ``mep_at="image"``, the working image with ``mep_at="work"``.

        Returns:
            a picklable ``Job`` for ``finish``: the arg-max map and softmax of the classes present only
            (``compact_semantics``: the same instances at a fraction of the bytes), the boundary map, the MEP config.
        """
        sem, prob = semantic_input(maps, semantic)
        classes = None
        if prob is not None:
            sem, prob, classes = compact_semantics(sem, prob)
        data = {"method": self.method, "mep": self.mep, "mep_at": self.mep_at, "boundary": maps["boundary_prob"],
                "semantic": sem, "prob": prob, "classes": classes,
                "image": image if self.mep.watershed_on == "image" else None}  # fmt: skip
        return Job(index=index, image_id=image_id, size=(int(size[0]), int(size[1])), data=data)

    @staticmethod
    def finish(job: Job) -> Instances:
        """The MEP (or a baseline, ``method``) on one job: instances at ``job.size``; ``job.extras`` gets the
        ``boundary`` (float32) and ``semantic`` (uint8 semantic ids) maps it used, at the size it ran."""
        d = job.data
        inst, sem, boundary = instances_at_size(d["method"], d["semantic"], d["boundary"], job.size, prob=d["prob"],
                                                classes=d["classes"], mep_at=d["mep_at"], image=d["image"],
                                                cfg=d["mep"])  # fmt: skip
        if d["classes"] is not None:
            sem = d["classes"].astype(np.uint8)[sem]
        job.extras.update(boundary=boundary, semantic=sem)
        return inst

    def predict_instances(
        self, image: np.ndarray | str | os.PathLike, semantic: np.ndarray | None = None
    ) -> tuple[Instances, dict[str, np.ndarray]]:
        """Instances (docs/ARCHITECTURE.md "Instances") at the original size, and the network maps:
        ``finish(forward([prepare(image)])[0])``.

        Args:
            image: path or array (see ``as_rgb_uint8``).
            semantic: optional H x W semantic ids (0 background, 1..K, 255 void) replacing the semantic branch.

        Returns:
            ``(instances, maps)``: ``maps`` holds ``boundary_prob`` and ``sem_prob`` at the working size and
            ``semantic``, the uint8 map the MEP used, at the size it ran (the original with ``mep_at="image"``).
        """
        p = self.prepare(Item(index=0, image_id="image", image=image, semantic=semantic))
        maps = self.infer(p.work)
        job = self.job_from_maps(maps, p.rgb.shape[:2], semantic=p.semantic,
                                 image=p.rgb if self.mep_at == "image" else p.work)  # fmt: skip
        inst = self.finish(job)
        maps["semantic"] = job.extras["semantic"]
        return inst, maps

    def instances_from_maps(
        self,
        maps: dict[str, np.ndarray],
        size: tuple[int, int],
        *,
        semantic: np.ndarray | None = None,
        image: np.ndarray | None = None,
    ) -> tuple[Instances, np.ndarray]:
        """Instances at the original ``size`` (H, W) from network maps at the working size (``infer`` output), for
        callers that cache the maps (``job_from_maps`` + ``finish``; arguments as ``job_from_maps``).

        Returns:
            ``(Instances at H x W, uint8 semantic map the MEP used, at the size it ran)``.
        """
        job = self.job_from_maps(maps, size, semantic=semantic, image=image)
        return self.finish(job), job.extras["semantic"]

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


def compare_backends(
    weights: str | os.PathLike, onnx_path: str | os.PathLike, image: np.ndarray | None = None
) -> dict[str, Any]:
    """Max |difference| of the probability maps of PyTorch and onnxruntime on one image.

    Args:
        weights: the ``*.safetensors`` file; onnx_path: its export.
        image: uint8 H x W x 3 (default: a 200 x 300 pattern, not a multiple of 32).

    Returns:
        ``{"boundary": float, "semantic": float, "size": (H, W)}``.
    """
    if image is None:
        yy, xx = np.mgrid[:200, :300]
        image = np.stack([(xx * 3) % 256, (yy * 5) % 256, ((xx + yy) * 2) % 256], -1).astype(np.uint8)
    a = Predictor.from_pretrained(weights).infer(image)
    b = Predictor.from_pretrained(onnx_path).infer(image)
    return {
        "boundary": float(np.abs(a["boundary_prob"] - b["boundary_prob"]).max()),
        "semantic": float(np.abs(a["sem_prob"] - b["sem_prob"]).max()),
        "size": tuple(image.shape[:2]),
    }
