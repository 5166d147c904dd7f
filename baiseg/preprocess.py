"""The one input path of the network: normalisation per backbone and padding to a multiple of 32.

Training (``baiseg.data.transforms``), validation (``baiseg.engine.validate`` through ``Predictor.infer``) and
prediction (``Predictor.infer``, the ONNX backend) all normalise with ``normalize`` and the model's ``input_norm``
(``model_input_norm``: one fallback, ImageNet's, for models without the attribute). The network sees zeros (the
mean colour) in the padding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

IMAGENET_MEAN = (123.675, 116.28, 103.53)  # 0-255 pixel units
IMAGENET_STD = (58.395, 57.12, 57.375)
PAD_MULTIPLE = 32


def model_input_norm(model: Any) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``(mean, std)`` in 0-255 pixel units that ``model`` expects (``model.input_norm``; ImageNet's otherwise)."""
    mean, std = getattr(model, "input_norm", (IMAGENET_MEAN, IMAGENET_STD))
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def normalize(image: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8/float H x W x 3 RGB (0-255) -> float32 tensor 3 x H x W, ``(x - mean) / std`` per channel."""
    x = (np.asarray(image, np.float32) - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


def padded_size(h: int, w: int, multiple: int = PAD_MULTIPLE) -> tuple[int, int]:
    """``(H, W)`` rounded up to a multiple of ``multiple``."""
    return h + (-h % multiple), w + (-w % multiple)


def normalize_pad(
    images: Sequence[np.ndarray], mean: Sequence[float], std: Sequence[float], multiple: int = PAD_MULTIPLE
) -> torch.Tensor:
    """A batch for the network: each image normalised, zero-padded (right, bottom) to the largest padded size.

    Args:
        images: uint8 H_i x W_i x 3 RGB arrays (one batch; the same padded size keeps outputs identical to single
            images, see ``padded_size``).
        mean, std: per-channel normalisation in 0-255 units.
        multiple: the padded height and width are multiples of this.

    Returns:
        float32 N x 3 x Hp x Wp.
    """
    sizes = [padded_size(*im.shape[:2], multiple=multiple) for im in images]
    hp, wp = max(s[0] for s in sizes), max(s[1] for s in sizes)
    x = torch.zeros((len(images), 3, hp, wp), dtype=torch.float32)
    for i, im in enumerate(images):
        x[i, :, : im.shape[0], : im.shape[1]] = normalize(im, mean, std)
    return x
