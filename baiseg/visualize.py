"""Pictures: colourised semantic maps, instance overlays with contours and class names, labelled sheets.

All functions take and return uint8 RGB arrays (H x W x 3) and never modify their inputs.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from baiseg.data.io import voc_palette

_GOLDEN = 0.618033988749895


def instance_colour(k: int) -> np.ndarray:
    """A bright colour for instance ``k`` (golden-ratio hue walk, so neighbours in the list differ), float32 RGB."""
    hue = int(((k * _GOLDEN) % 1.0) * 179)
    hsv = np.array([[[hue, 200, 255]]], dtype=np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def colourise(semantic: np.ndarray) -> np.ndarray:
    """uint8 H x W semantic ids -> uint8 H x W x 3 with the VOC colour map (255 = the VOC void colour)."""
    return voc_palette()[np.asarray(semantic).astype(np.uint8)]


def contour_rgb(t: np.ndarray) -> np.ndarray:
    """Contour label T (0 / 1 / 255) -> black / white / dark red (ignored)."""
    rgb = np.zeros((*t.shape, 3), dtype=np.uint8)
    rgb[t == 1] = 255
    rgb[t == 255] = (120, 0, 0)
    return rgb


def heatmap(prob: np.ndarray) -> np.ndarray:
    """float H x W in [0, 1] (e.g. a boundary map) -> uint8 H x W x 3 (inferno-like OpenCV colour map)."""
    u8 = (np.clip(prob, 0.0, 1.0) * 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(u8, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)


def put_label(
    panel: np.ndarray, text: str, org: tuple[int, int] | None = None, scale: float | None = None
) -> np.ndarray:
    """Write ``text`` (yellow on a black outline) at ``org`` (default top-left) on a copy of ``panel``."""
    panel = np.ascontiguousarray(panel).copy()
    if scale is None:
        scale = max(0.4, min(panel.shape[:2]) / 600)
    x, y = org if org is not None else (5, int(22 * scale) + 4)
    for colour, thick in (((0, 0, 0), 3), ((255, 255, 0), 1)):
        cv2.putText(panel, text, (int(x), int(y)), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick, cv2.LINE_AA)
    return panel


def draw_instances(
    image: np.ndarray,
    instances: dict[str, Any] | None,
    class_names: list[str] | None = None,
    *,
    alpha: float = 0.55,
    show_labels: bool = True,
) -> np.ndarray:
    """Overlay instances on an image: a colour per instance, its outline, and "class score" at its top.

    Args:
        image: uint8 H x W x 3 RGB.
        instances: ``{"masks": bool N x H x W, "classes": int N (semantic ids 1..K), "scores": float N (optional),
            "crowd": bool N (optional; crowd regions are drawn grey without a label)}`` or None.
        class_names: K names (``classes`` index them as id - 1); ids are printed when absent.
        alpha: weight of the instance colour in the blend, in [0, 1].
        show_labels: write class names (and scores) on the image.

    Returns:
        uint8 H x W x 3 RGB.
    """
    if instances is None or len(instances["masks"]) == 0:
        return np.asarray(image, dtype=np.uint8).copy()
    out = np.asarray(image, dtype=np.float32).copy()
    masks, classes = instances["masks"], np.asarray(instances["classes"])
    scores = instances.get("scores")
    crowd = instances.get("crowd")
    labels: list[tuple[str, int, int, np.ndarray]] = []
    h, w = out.shape[:2]
    for k, full in enumerate(masks):
        full = np.asarray(full, dtype=bool)
        box = cv2.boundingRect(full.view(np.uint8))  # (x, y, w, h); all zeros for an empty mask
        if box[2] == 0:
            continue
        # work in the mask's box grown by one pixel (the outline needs the neighbours): the same pixels as on the
        # whole image, at the cost of the box
        x0, y0 = max(box[0] - 1, 0), max(box[1] - 1, 0)
        x1, y1 = min(box[0] + box[2] + 1, w), min(box[1] + box[3] + 1, h)
        m, region = full[y0:y1, x0:x1], out[y0:y1, x0:x1]
        is_crowd = crowd is not None and bool(crowd[k])
        colour = np.array([128, 128, 128], np.float32) if is_crowd else instance_colour(k)
        region[m] = (1 - alpha) * region[m] + alpha * colour
        edge = m & ~cv2.erode(m.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)  # inner outline
        region[edge] = colour
        if show_labels and not is_crowd:
            c = int(classes[k])
            name = class_names[c - 1] if class_names and 0 < c <= len(class_names) else str(c)
            text = name if scores is None else f"{name} {float(scores[k]):.2f}"
            labels.append((text, box[0], max(box[1] + 12, 12), colour))
    result = out.clip(0, 255).astype(np.uint8)
    scale = max(0.35, min(result.shape[:2]) / 900)
    for text, x, y, _ in labels:
        result = put_label(result, text, (x + 2, y), scale)
    return result


def sheet(panels: list[np.ndarray], titles: list[str] | None = None, columns: int = 2) -> np.ndarray:
    """Tile equally sized RGB panels (with optional titles) into one uint8 image, row-major, ``columns`` wide."""
    if not panels:
        raise ValueError("sheet() needs at least one panel")
    h, w = panels[0].shape[:2]
    tiles = []
    for i, p in enumerate(panels):
        p = np.asarray(p)
        if p.ndim == 2:
            p = np.repeat(p[..., None], 3, axis=2)
        if p.shape[:2] != (h, w):
            p = cv2.resize(p, (w, h), interpolation=cv2.INTER_NEAREST_EXACT)
        tiles.append(put_label(p, titles[i]) if titles else p)
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[r : r + columns], axis=1) for r in range(0, len(tiles), columns)]
    return np.concatenate(rows, axis=0)


def comparison_sheet(
    sample: dict[str, Any],
    boundary_prob: np.ndarray,
    predictions: dict[str, dict[str, Any]],
    class_names: list[str] | None = None,
    max_side: int = 320,
) -> np.ndarray:
    """One row: image | ground truth | boundary map | each named prediction (e.g. ``{"cc": ..., "BAISeg": ...}``).

    Args:
        sample: dataset sample (``image``, ``instances`` may be None).
        boundary_prob: float H x W in [0, 1].
        predictions: title -> instances dict.
        class_names: K names for the labels.
        max_side: panels are downscaled so that their longer side is at most this.

    Returns:
        uint8 h x (n w) x 3.
    """
    image, gt = sample["image"], sample.get("instances")
    panels = [image, draw_instances(image, gt, class_names, show_labels=False), heatmap(boundary_prob)]
    titles = ["image", "GT" if gt is None else f"GT {len(gt['masks'])}", "boundary B"]
    for title, inst in predictions.items():
        panels.append(draw_instances(image, inst, class_names, show_labels=False))
        titles.append(f"{title} {len(inst['masks'])}")
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        size = (max(round(w * scale), 1), max(round(h * scale), 1))
        panels = [cv2.resize(p, size, interpolation=cv2.INTER_AREA) for p in panels]
    return sheet(panels, titles, columns=len(panels))
