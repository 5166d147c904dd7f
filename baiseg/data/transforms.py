"""Training and evaluation transforms (seedable): sample dict -> tensors of the training batch contract.

Training: random scale in [scale_min, scale_max], pad (image with the mean colour, masks with 255) and random crop
to ``crop_size``, horizontal flip, colour jitter (brightness, contrast, saturation), normalisation per backbone,
then the contour label T of the cropped semantic mask. Evaluation: original resolution, normalisation only.
Randomness comes only from the ``np.random.Generator`` passed in; the trainer's ``baiseg.engine.data.SeededStream``
derives it from the run seed and the stream position, so results do not depend on the number of loader workers.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch
import torch.utils.data

from baiseg.data.contour import contour_from_filled, fill_void_bands, semantic_contour
from baiseg.preprocess import IMAGENET_MEAN, IMAGENET_STD, normalize  # training and inference share them


def _contour_kwargs(contour: Any) -> dict[str, Any]:
    if contour is None:
        return {}
    if isinstance(contour, dict):
        return dict(contour)
    return {"neighbourhood": contour.neighbourhood, "void_as_boundary": contour.void_as_boundary,
            "width_px": contour.width_px, "void_fill_px": contour.void_fill_px}  # fmt: skip


def color_jitter(image: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Random brightness, contrast and saturation factors in [1 - strength, 1 + strength]; float32 H x W x 3."""
    img = image.astype(np.float32)
    lo, hi = max(0.0, 1 - strength), 1 + strength
    b, c, s = rng.uniform(lo, hi, 3)
    img = img * b
    gray = img @ np.array([0.299, 0.587, 0.114], np.float32)
    img = (img - gray.mean()) * c + gray.mean()
    gray = (img @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
    img = gray + (img - gray) * s
    return img.clip(0, 255)


class TrainTransform:
    """Random scale, pad + crop, flip, colour jitter, normalisation and T.

    Args:
        crop_size: output side S in pixels.
        scale_min, scale_max: range of the random rescale factor.
        hflip: random horizontal flip with probability 0.5.
        color_jitter: jitter strength (0 disables).
        mean, std: normalisation in 0-255 units (``model.input_norm``).
        contour: ``ContourConfig`` or dict of ``semantic_contour`` options.

    Call with ``(sample, rng)``; returns ``{"image": float32 3 x S x S, "semantic": int64 S x S (255 ignore),
    "contour": float32 S x S (0 / 1, 255 ignore)}``.
    """

    def __init__(
        self,
        *,
        crop_size: int = 416,
        scale_min: float = 0.5,
        scale_max: float = 2.0,
        hflip: bool = True,
        color_jitter: float = 0.2,
        mean: tuple[float, ...] = IMAGENET_MEAN,
        std: tuple[float, ...] = IMAGENET_STD,
        contour: Any = None,
    ) -> None:
        if crop_size < 8 or not 0 < scale_min <= scale_max:
            raise ValueError(f"bad transform sizes: crop_size={crop_size}, scale=[{scale_min}, {scale_max}]")
        self.crop_size, self.scale_min, self.scale_max = int(crop_size), float(scale_min), float(scale_max)
        self.hflip, self.color_jitter = bool(hflip), float(color_jitter)
        self.mean, self.std = tuple(mean), tuple(std)
        self.contour_kwargs = _contour_kwargs(contour)

    @classmethod
    def from_config(cls, data_cfg: Any, mean: tuple[float, ...], std: tuple[float, ...]) -> TrainTransform:
        """Build from ``cfg.data`` (``DataConfig``) and the backbone's normalisation."""
        return cls(crop_size=data_cfg.crop_size, scale_min=data_cfg.scale_min, scale_max=data_cfg.scale_max,
                   hflip=data_cfg.hflip, color_jitter=data_cfg.color_jitter, mean=mean, std=std,
                   contour=data_cfg.contour)  # fmt: skip

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, torch.Tensor]:
        image, sem = sample["image"], sample["semantic"]
        h, w = sem.shape
        # Void bands are filled at the original resolution (their width is defined there) and before the padding
        # (which is void too, but must not be filled): docs/DATA.md "Void bands".
        kw = dict(self.contour_kwargs)
        sem, band = fill_void_bands(sem, int(kw.pop("void_fill_px", 3)))
        band = band.astype(np.uint8)
        scale = rng.uniform(self.scale_min, self.scale_max)
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        if (nh, nw) != (h, w):
            image = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
            sem = cv2.resize(sem, (nw, nh), interpolation=cv2.INTER_NEAREST_EXACT)
            band = cv2.resize(band, (nw, nh), interpolation=cv2.INTER_NEAREST_EXACT)
        s = self.crop_size
        ph, pw = max(s - nh, 0), max(s - nw, 0)
        if ph or pw:
            image = cv2.copyMakeBorder(image, 0, ph, 0, pw, cv2.BORDER_CONSTANT, value=[round(m) for m in self.mean])
            sem = cv2.copyMakeBorder(sem, 0, ph, 0, pw, cv2.BORDER_CONSTANT, value=255)
            band = cv2.copyMakeBorder(band, 0, ph, 0, pw, cv2.BORDER_CONSTANT, value=0)
        y0 = int(rng.integers(0, sem.shape[0] - s + 1))
        x0 = int(rng.integers(0, sem.shape[1] - s + 1))
        image, sem = image[y0 : y0 + s, x0 : x0 + s], sem[y0 : y0 + s, x0 : x0 + s]
        band = band[y0 : y0 + s, x0 : x0 + s]
        if self.hflip and rng.random() < 0.5:
            image, sem, band = image[:, ::-1], sem[:, ::-1], band[:, ::-1]
        img = color_jitter(image, self.color_jitter, rng) if self.color_jitter > 0 else image.astype(np.float32)
        sem, band = np.ascontiguousarray(sem), np.ascontiguousarray(band).astype(bool)
        contour = contour_from_filled(sem, band, **kw)
        sem = np.where(band, 255, sem)  # the band stays out of L_S
        return {
            "image": normalize(img, self.mean, self.std),
            "semantic": torch.from_numpy(sem.astype(np.int64)),
            "contour": torch.from_numpy(contour.astype(np.float32)),
        }


class EvalTransform:
    """Original resolution: normalised image tensor plus the unchanged labels (batch size 1 in loaders).

    Returns ``{"image": float32 3 x H x W, "semantic": int64 H x W, "contour": float32 H x W, "instances",
    "image_id", "path"}`` (instances as in the sample, NumPy).
    """

    def __init__(self, *, mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD,
                 contour: Any = None) -> None:  # fmt: skip
        self.mean, self.std = tuple(mean), tuple(std)
        self.contour_kwargs = _contour_kwargs(contour)

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator | None = None) -> dict[str, Any]:
        sem = sample["semantic"]
        return {
            "image": normalize(sample["image"], self.mean, self.std),
            "semantic": torch.from_numpy(sem.astype(np.int64)),
            "contour": torch.from_numpy(semantic_contour(sem, **self.contour_kwargs).astype(np.float32)),
            "instances": sample.get("instances"),
            "image_id": sample["image_id"],
            "path": sample["path"],
        }
