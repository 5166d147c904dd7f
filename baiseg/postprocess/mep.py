"""The Mask Extraction Pipeline (paper §3.6; docs/MEP.md, docs/DEVIATIONS.md): boundary map + semantic map ->
class-agnostic label map.

Stages, each a pure function over NumPy arrays in its own module and each switchable in ``MEPConfig``; this module
only chains them (``extract_masks``):

1. ``boundary_nms`` (nms.py): thin the boundary map to ridges.
2. ``make_markers`` (markers.py): threshold the ridges, dilate; the distance cores of the semantic mask cut by the
   ridges (default) or the non-boundary foreground, optionally only "sure foreground"; connected components.
3. ``flood`` (flood.py; watershed of the boundary map, the default) or ``watershed_image`` (cv2.watershed of the
   image): grow the markers over the unlabelled pixels; restricted to the semantic foreground when refinement is on.
4. ``merge_weak_borders`` (merge.py, when enabled): merge regions across weak or non-neck cuts.
5. ``refine`` (refine.py): closing / hole filling per mask, semantic filter, foreground without markers as masks,
   min area.

The C kernels are reached through kernels.py only; label-map helpers are in labels.py.

Label maps are int32 H x W: 0 = no instance, 1..N = instance ids (consecutive).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from baiseg.config import MEPConfig
from baiseg.errors import BaisegError
from baiseg.postprocess.adapt import adapted
from baiseg.postprocess.flood import flood, flood_per_class, watershed_image
from baiseg.postprocess.labels import check_semantic_ids, drop_small, foreground, relabel, thing_classes
from baiseg.postprocess.markers import make_markers
from baiseg.postprocess.merge import merge_weak_borders
from baiseg.postprocess.nms import check_finite_map
from baiseg.postprocess.refine import refine, unrefined_region


def extract_masks(
    boundary_prob: np.ndarray, semantic: np.ndarray, image: np.ndarray | None = None, cfg: MEPConfig | None = None
) -> np.ndarray:
    """Run the whole MEP.

    Args:
        boundary_prob: float H x W, boundary probability in [0, 1].
        semantic: uint8/int H x W semantic ids (0 background, 1..K classes, 255 void).
        image: uint8 H x W x 3, needed only when ``cfg.watershed_on == "image"``.
        cfg: MEP parameters (defaults when None).

    Returns:
        int32 H x W class-agnostic label map (0 = none, 1..N instances).
    """
    cfg = cfg or MEPConfig()
    b = np.asarray(boundary_prob, dtype=np.float32)
    semantic = np.asarray(semantic)
    check_finite_map(b, "boundary map")
    if semantic.dtype.kind not in "iub":
        raise BaisegError(f"the semantic map must hold integer class ids, got dtype {semantic.dtype}: pass "
                          "argmax(sem_prob), not probabilities")  # fmt: skip
    check_semantic_ids(semantic)
    if b.ndim != 2 or semantic.shape != b.shape:
        raise BaisegError(
            f"boundary map {b.shape} and semantic map {semantic.shape} must be 2-D and of the same size: "
            "resize the semantic map to the image (nearest neighbour)"
        )
    if cfg.watershed_on not in ("boundary", "image"):
        raise BaisegError(f"mep.watershed_on={cfg.watershed_on!r} is not valid: use 'boundary' or 'image'")
    fg = foreground(semantic)
    classes = thing_classes(semantic)
    cfg, _ = adapted(cfg, b, fg)  # thresholds relative to this image's outline strength (adapt.py)
    markers = make_markers(b, fg, cfg, semantic, classes=classes, checked=True)
    labels = markers
    if cfg.watershed:
        allowed = fg if cfg.refine else unrefined_region(fg)
        if cfg.watershed_on == "image":
            if image is None:
                raise BaisegError(
                    "mep.watershed_on=image needs the image: pass image=... or set mep.watershed_on=boundary"
                )
            labels = watershed_image(_as_rgb(image), markers, allowed)
        elif cfg.flood_per_class and cfg.refine:
            labels = flood_per_class(b, markers, semantic, cfg.watershed_levels, classes)
        else:
            labels = flood(b, markers, allowed, cfg.watershed_levels)
    if cfg.merge_thr > 0 or cfg.merge_enclosed or cfg.merge_neck_ratio > 0:  # before min-area drops (merge.py)
        if cfg.refine:
            labels = refine(labels, fg, dataclasses.replace(cfg, min_area_px=0))
        labels = merge_weak_borders(labels, b, semantic, thr=cfg.merge_thr, min_area_px=cfg.min_area_px,
                                    enclosed=cfg.merge_enclosed, neck_ratio=cfg.merge_neck_ratio,
                                    neck_max_strength=cfg.merge_neck_max_strength)
        return drop_small(labels, cfg.min_area_px) if cfg.refine else labels
    if cfg.refine:
        labels = refine(labels, fg, cfg)
    return relabel(labels)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image[:, :, :3])
