"""A procedural dataset (ours): textured objects of 2-3 classes on textured backgrounds, in clusters of touching and
overlapping instances of one class, so connected components of the semantic mask do not separate the instances.

Image ``i`` of seed ``s`` is a pure function of ``(s, i, size, num_classes)``; the ``val`` split uses another seed.
Each class has its own shape and hue family; each instance has its own shade, stripe texture and lighting gradient,
so instance boundaries are visible in the image but never in the semantic mask.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch.utils.data

from baiseg.errors import DataError

CLASS_NAMES = ["disc", "box", "triangle"]
_HUES = np.array([[200, 60, 50], [60, 170, 70], [60, 90, 210]], dtype=np.float32)  # RGB centre of each class
VAL_SEED_OFFSET = 1_000_003


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Smooth noise in [0, 1], float32 H x W."""
    low = rng.random((cells, cells)).astype(np.float32)
    return cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def _stripes(rng: np.random.Generator, h: int, w: int, period_px: float) -> np.ndarray:
    """A sinusoidal grating of random orientation and phase in [0, 1], float32 H x W."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = rng.uniform(0, np.pi)
    phase = (xx * np.cos(a) + yy * np.sin(a)) * (2 * np.pi / period_px) + rng.uniform(0, 2 * np.pi)
    return 0.5 + 0.5 * np.sin(phase)


def _shape_mask(cls: int, h: int, w: int, cx: float, cy: float, r: float, rng: np.random.Generator) -> np.ndarray:
    """Bool H x W mask of a class-specific shape (0 ellipse, 1 rotated rectangle, 2 triangle) around (cx, cy)."""
    canvas = np.zeros((h, w), dtype=np.uint8)
    ang = rng.uniform(0, 360)
    if cls == 0:
        axes = (max(2, int(r)), max(2, int(r * rng.uniform(0.7, 1.0))))
        cv2.ellipse(canvas, (int(cx), int(cy)), axes, ang, 0, 360, 1, thickness=-1)
    else:
        n = 4 if cls == 1 else 3
        base = np.deg2rad(ang) + np.arange(n) * 2 * np.pi / n
        rr = r * (rng.uniform(0.8, 1.1, n) if cls == 1 else rng.uniform(0.9, 1.25, n))
        pts = np.stack([cx + rr * np.cos(base), cy + rr * np.sin(base)], axis=1)
        cv2.fillPoly(canvas, [np.round(pts).astype(np.int32)], 1)
    return canvas.astype(bool)


def render(seed: int, index: int, height: int, width: int, num_classes: int) -> dict[str, Any]:
    """Render one image with its semantic mask and instances (the dataset sample of docs/ARCHITECTURE.md)."""
    rng = np.random.default_rng([int(seed), int(index)])
    h, w = height, width
    s = min(h, w)
    bg = _smooth_noise(rng, h, w, 6)[..., None] * rng.uniform(60, 140, 3) + 60
    bg += (_stripes(rng, h, w, rng.uniform(6, 20)) * 25)[..., None]
    image = bg.astype(np.float32)
    ids = np.zeros((h, w), dtype=np.int32)
    classes: list[int] = []
    for _ in range(int(rng.integers(2, 5))):
        cls = int(rng.integers(0, num_classes))
        prev = None
        for _ in range(int(rng.integers(2, 6))):
            r = s * rng.uniform(0.06, 0.12)
            if prev is None:
                cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
            else:
                a = rng.uniform(0, 2 * np.pi)
                d = (prev[2] + r) * rng.uniform(0.55, 0.95)
                cx, cy = np.clip(prev[0] + d * np.cos(a), 0, w - 1), np.clip(prev[1] + d * np.sin(a), 0, h - 1)
            prev = (cx, cy, r)
            m = _shape_mask(cls, h, w, cx, cy, r, rng)
            if not m.any():
                continue
            colour = _HUES[cls] * rng.uniform(0.6, 1.3) + rng.uniform(-25, 25, 3)
            tex = 0.75 + 0.25 * _stripes(rng, h, w, rng.uniform(4, 14))
            yy, xx = np.nonzero(m)
            g = rng.uniform(-1, 1, 2)
            light = 1 + 0.25 * (g[0] * (xx - cx) + g[1] * (yy - cy)) / max(r, 1)
            image[yy, xx] = colour[None, :] * (tex[yy, xx] * light)[:, None]
            classes.append(cls + 1)
            ids[m] = len(classes)
    image += rng.normal(0, 6, image.shape).astype(np.float32)
    image = cv2.GaussianBlur(image, (3, 3), 0.7)
    semantic = np.zeros((h, w), dtype=np.uint8)
    masks, kept = [], []
    for k, c in enumerate(classes, start=1):
        m = ids == k
        area = int(m.sum())
        if area == 0:
            continue
        if area < 20:  # a sliver left by occlusion: too small to be an instance, mark it void
            semantic[m] = 255
            continue
        semantic[m] = c
        masks.append(m)
        kept.append(c)
    return {
        "image": np.clip(image, 0, 255).astype(np.uint8),
        "semantic": semantic,
        "instances": {
            "masks": np.stack(masks) if masks else np.zeros((0, h, w), dtype=bool),
            "classes": np.asarray(kept, dtype=np.int64),
            "crowd": np.zeros(len(kept), dtype=bool),
        },
    }


class SyntheticDataset(torch.utils.data.Dataset):
    """The built-in synthetic dataset (``format: synthetic`` or the name ``synthetic``).

    Args:
        num_images: number of images (>= 1).
        size: image side in pixels, or ``[height, width]`` (each >= 32).
        num_classes: 2 or 3 thing classes (disc, box, triangle).
        seed: base seed; the ``val`` split uses ``seed + 1000003``.
        split: ``train`` (default) or ``val``.
        load_instances: False skips returning instances (training).
    """

    format = "synthetic"

    def __init__(
        self,
        *,
        num_images: int = 200,
        size: int | list[int] = 256,
        num_classes: int = 3,
        seed: int = 0,
        split: str | None = None,
        load_instances: bool = True,
    ) -> None:
        hw = [size, size] if isinstance(size, int) else list(size)
        if len(hw) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 32 for v in hw):
            raise DataError(f"synthetic: size must be an integer >= 32 or [height, width], got {size!r}")
        if num_classes not in (2, 3):
            raise DataError(f"synthetic: num_classes must be 2 or 3, got {num_classes!r}")
        if isinstance(num_images, bool) or not isinstance(num_images, int) or num_images < 1:
            raise DataError(f"synthetic: num_images must be a positive integer, got {num_images!r}")
        self.height, self.width = hw
        self.num_images = num_images
        self.num_classes = num_classes
        self.split = split or "train"
        if self.split not in ("train", "val"):
            raise DataError(f"synthetic: split must be 'train' or 'val', got {self.split!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise DataError(f"synthetic: seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed) + (VAL_SEED_OFFSET if self.split == "val" else 0)
        self.load_instances = load_instances
        self.class_names = CLASS_NAMES[:num_classes]
        self.category_ids = list(range(1, num_classes + 1))
        self.problems: list[str] = []
        self.errors: list[str] = []
        self.source = "synthetic"

    def __len__(self) -> int:
        return self.num_images

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.num_images:
            raise IndexError(index)
        sample = render(self.seed, index, self.height, self.width, self.num_classes)
        image_id = f"synthetic_{self.split}_{index:06d}"
        if not self.load_instances:
            sample["instances"] = None
        sample.update(image_id=image_id, path=image_id)
        return sample

    def __repr__(self) -> str:
        return f"SyntheticDataset(split={self.split!r}, images={self.num_images}, size={self.height}x{self.width})"
