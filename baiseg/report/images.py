"""Pictures of a report: the display image and its thumbnail (JPEG), boundary / semantic map layers (PNG), and
instance outlines as polygons in display pixels (drawn as SVG by the viewer, so each instance can be clicked).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from baiseg.instances import Instances
from baiseg.report.staging import write_file

DISPLAY_SIDE = 640  # longer side of the image shown in the viewer (px)
THUMB_SIDE = 128  # longer side of a thumbnail (px)
JPEG_QUALITY = 80
THUMB_QUALITY = 70


def display_scale(height: int, width: int, side: int = DISPLAY_SIDE) -> float:
    """Factor (<= 1) that brings an H x W image's longer side to at most ``side``."""
    return min(1.0, side / max(height, width, 1))


def resize_to(image: np.ndarray, scale: float, nearest: bool = False) -> np.ndarray:
    """``image`` (H x W or H x W x C) scaled by ``scale`` (sizes rounded, at least 1 px)."""
    if scale >= 1.0:
        return np.asarray(image)
    h, w = image.shape[:2]
    size = (max(round(w * scale), 1), max(round(h * scale), 1))
    return cv2.resize(np.asarray(image), size, interpolation=cv2.INTER_NEAREST_EXACT if nearest else cv2.INTER_AREA)


def write_jpeg(path: str | os.PathLike, rgb: np.ndarray, quality: int = JPEG_QUALITY) -> None:
    """Write a uint8 H x W x 3 RGB array as a JPEG (into the report's staging folder)."""
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(np.asarray(rgb)[..., ::-1]),
                           [cv2.IMWRITE_JPEG_QUALITY, int(quality)])  # fmt: skip
    if not ok:
        raise OSError(f"JPEG encoding of a {rgb.shape} image failed")
    write_file(Path(path), buf.tobytes())


def write_image_pair(folder: str | os.PathLike, name: str, rgb: np.ndarray) -> tuple[int, int]:
    """Write ``img/<name>.jpg`` (longer side <= DISPLAY_SIDE) and ``thumb/<name>.jpg`` (<= THUMB_SIDE).

    Args:
        rgb: uint8 H x W x 3 (gray H x W is expanded).

    Returns:
        (height, width) of the display image.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    rgb = rgb[..., :3].astype(np.uint8, copy=False)
    h, w = rgb.shape[:2]
    disp = resize_to(rgb, display_scale(h, w))
    write_jpeg(os.path.join(folder, "img", f"{name}.jpg"), disp)
    write_jpeg(os.path.join(folder, "thumb", f"{name}.jpg"), resize_to(rgb, display_scale(h, w, THUMB_SIDE)),
               THUMB_QUALITY)  # fmt: skip
    return disp.shape[0], disp.shape[1]


def write_png(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write a uint8 H x W (gray) or H x W x 3 (BGR) array as a PNG."""
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(array), [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise OSError(f"PNG encoding of a {array.shape} array failed")
    write_file(Path(path), buf.tobytes())


def write_boundary(path: str | os.PathLike, prob: np.ndarray, size_hw: tuple[int, int]) -> None:
    """A boundary map (float H x W in [0, 1], or uint8 x 255) as a gray PNG of the display size ``size_hw``."""
    p = np.asarray(prob)
    u8 = p if p.dtype == np.uint8 else (np.clip(p, 0.0, 1.0) * 255).round().astype(np.uint8)
    u8 = cv2.resize(u8, (size_hw[1], size_hw[0]), interpolation=cv2.INTER_AREA)
    write_png(path, u8)


def write_semantic(path: str | os.PathLike, semantic: np.ndarray, size_hw: tuple[int, int]) -> None:
    """A semantic map (uint8 H x W ids, 255 void) as a VOC-coloured PNG of the display size ``size_hw``."""
    from baiseg.visualize import colourise

    ids = cv2.resize(np.asarray(semantic, np.uint8), (size_hw[1], size_hw[0]), interpolation=cv2.INTER_NEAREST_EXACT)
    write_png(path, colourise(ids)[..., ::-1])


def mask_polygons(mask: np.ndarray, scale: float, tol_px: float = 0.8) -> list[list[float]]:
    """Outer outlines of a bool H x W mask as flat ``[x0, y0, x1, y1, ...]`` lists in display pixels.

    Args:
        mask: bool H x W.
        scale: display scale (``display_scale``).
        tol_px: Douglas-Peucker tolerance in display pixels (smaller: more points).

    Returns:
        One list per connected part with at least 3 points (rounded to 0.1 px).
    """
    m = np.ascontiguousarray(np.asarray(mask, bool).view(np.uint8))
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    rings = []
    for c in contours:
        c = cv2.approxPolyDP(c, tol_px / max(scale, 1e-6), True) if len(c) > 8 else c
        pts = (c.reshape(-1, 2).astype(np.float64) + 0.5) * scale
        if len(pts) >= 3 or (len(pts) and len(contours) == 1):
            rings.append([round(float(v), 1) for v in pts.reshape(-1)])
    return rings


def instance_records(inst: Instances | None, scale: float, class_names: list[str],
                     extra: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """One JSON-ready record per predicted instance: polygons, class, score, area and the analysis fields.

    Args:
        inst: ``Instances`` (classes 1..K) or None.
        scale: display scale.
        class_names: K names (class id k is ``class_names[k - 1]``).
        extra: N dicts merged into the records (e.g. ``iou`` and ``kind`` from ``analyse_image``).

    Returns:
        ``[{"poly": [[x, y, ...], ...], "cls": name, "score": float, "area": px at full size, ...}]``.
    """
    if inst is None:
        return []
    return _records(inst.masks, inst.classes, inst.scores, scale, class_names, extra)


def gt_records(gt: dict[str, Any] | None, scale: float, class_names: list[str]) -> list[dict[str, Any]]:
    """``instance_records`` of a sample's instance GT (``masks``, ``classes``; ``collect.gt_of``), ``score`` None."""
    if gt is None:
        return []
    return _records(np.asarray(gt["masks"], bool), np.asarray(gt["classes"]).reshape(-1), None, scale, class_names)


def _records(masks: np.ndarray, classes: np.ndarray, scores: np.ndarray | None, scale: float, class_names: list[str],
             extra: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """The records of ``instance_records`` from arrays: masks bool N x H x W, classes int N, scores float N or None."""
    out = []
    for k in range(len(masks)):
        c = int(classes[k])
        rec = {"poly": mask_polygons(masks[k], scale), "cls": class_names[c - 1] if 0 < c <= len(class_names)
               else str(c), "score": None if scores is None else round(float(scores[k]), 4),
               "area": int(masks[k].sum())}  # fmt: skip
        if extra is not None:
            rec.update({key: round(v, 4) if isinstance(v, float) else v for key, v in extra[k].items()})
        out.append(rec)
    return out
