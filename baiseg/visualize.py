"""Pictures: colourised semantic maps, instance overlays with contours and class names, labelled sheets.

All functions take and return uint8 RGB arrays (H x W x 3) and never modify their inputs.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from baiseg.data.io import voc_palette
from baiseg.instances import Instances

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
    instances: Instances | None,
    class_names: list[str] | None = None,
    *,
    alpha: float = 0.55,
    show_labels: bool = True,
    legend: bool = True,
) -> np.ndarray:
    """Overlay predicted instances on an image so that dense scenes stay readable: a colour per instance with its
    thin (1 px) outline; "class score" tags only where they fit inside the instance's box without covering an earlier
    tag (the instances come in score order); and a legend of the classes with their counts.

    Args:
        image: uint8 H x W x 3 RGB.
        instances: ``Instances`` at the image's size (classes are semantic ids 1..K), or None.
        class_names: K names (``classes`` index them as id - 1); ids are printed when absent.
        alpha: weight of the instance colour in the blend, in [0, 1].
        show_labels: write the tags (each on a patch of its class's colour, the colour of the legend).
        legend: with ``show_labels``, list the classes, their colours and counts in the bottom-left corner.

    Returns:
        uint8 H x W x 3 RGB.
    """
    if instances is None:
        return np.asarray(image, dtype=np.uint8).copy()
    return _overlay(image, instances.masks, instances.classes, instances.scores, None, class_names,
                    alpha=alpha, show_labels=show_labels, legend=legend)  # fmt: skip


def draw_ground_truth(
    image: np.ndarray,
    gt: dict[str, Any] | None,
    class_names: list[str] | None = None,
    *,
    alpha: float = 0.55,
    show_labels: bool = True,
    legend: bool = True,
) -> np.ndarray:
    """Overlay a dataset sample's instance ground truth as ``draw_instances`` does, tags without scores.

    Args:
        gt: the sample's ``instances`` (docs/ARCHITECTURE.md "Dataset sample": ``masks`` bool N x H x W, ``classes``
            int N, optional ``crowd`` bool N: crowd regions are drawn grey without a label), or None.
        image, class_names, alpha, show_labels, legend: as ``draw_instances``.

    Returns:
        uint8 H x W x 3 RGB.
    """
    if gt is None:
        return np.asarray(image, dtype=np.uint8).copy()
    return _overlay(image, gt["masks"], np.asarray(gt["classes"]), None, gt.get("crowd"), class_names,
                    alpha=alpha, show_labels=show_labels, legend=legend)  # fmt: skip


def _overlay(image: np.ndarray, masks: np.ndarray, classes: np.ndarray, scores: np.ndarray | None,
             crowd: np.ndarray | None, class_names: list[str] | None, *, alpha: float, show_labels: bool,
             legend: bool) -> np.ndarray:  # fmt: skip
    """``draw_instances`` / ``draw_ground_truth`` on arrays: masks bool N x H x W, classes int N, optional scores
    float N (in the tags) and crowd bool N (grey, no tag)."""
    if len(masks) == 0:
        return np.asarray(image, dtype=np.uint8).copy()
    out = np.asarray(image, dtype=np.float32).copy()
    tags: list[tuple[str, int, tuple[int, int, int, int]]] = []
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
            tags.append((text, c, box))
    result = out.clip(0, 255).astype(np.uint8)
    if tags:
        scale = max(0.35, min(h, w) / 1000)
        _draw_tags(result, tags, scale)
        if legend:
            _draw_legend(result, tags, class_names, scale)
    return result


def _class_colour(c: int) -> tuple[int, int, int]:
    """The legend / tag colour of semantic id ``c`` (the VOC colour map)."""
    rgb = voc_palette()[int(c) % 256]
    return int(rgb[0]), int(rgb[1]), int(rgb[2])


def _text_colour(bg: tuple[int, int, int]) -> tuple[int, int, int]:
    return (0, 0, 0) if 0.299 * bg[0] + 0.587 * bg[1] + 0.114 * bg[2] > 140 else (255, 255, 255)


def _draw_tags(img: np.ndarray, tags: list[tuple[str, int, tuple[int, int, int, int]]], scale: float) -> list:
    """Draw, in place, each tag whose text fits inside its box and misses the tags already drawn; returns them."""
    placed: list[tuple[int, int, int, int]] = []
    for text, c, (bx, by, bw, bh) in tags:
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        rect = (bx + 1, by + 1, bx + tw + 5, by + th + base + 4)
        if tw + 6 > bw or th + base + 5 > bh or any(_overlap(rect, r) for r in placed):
            continue  # does not fit: left out (the report shows it on hover)
        bg = _class_colour(c)
        cv2.rectangle(img, rect[:2], (rect[2] - 1, rect[3] - 1), bg, -1)
        cv2.putText(img, text, (rect[0] + 2, rect[1] + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, _text_colour(bg), 1,
                    cv2.LINE_AA)  # fmt: skip
        placed.append(rect)
    return placed


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _draw_legend(img: np.ndarray, tags: list, class_names: list[str] | None, scale: float) -> None:
    """One line per class, "name xN" on its colour, stacked up from the bottom-left corner (in place)."""
    counts: dict[int, int] = {}
    for _, c, _ in tags:
        counts[c] = counts.get(c, 0) + 1
    y = img.shape[0] - 3
    for c in sorted(counts, reverse=True):
        name = class_names[c - 1] if class_names and 0 < c <= len(class_names) else str(c)
        text = f"{name} x{counts[c]}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        bg = _class_colour(c)
        cv2.rectangle(img, (2, y - th - base - 3), (tw + 7, y), bg, -1)
        cv2.putText(img, text, (5, y - base - 1), cv2.FONT_HERSHEY_SIMPLEX, scale, _text_colour(bg), 1, cv2.LINE_AA)
        y -= th + base + 5
        if y < th + base + 5:
            break


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
    predictions: dict[str, Instances],
    class_names: list[str] | None = None,
    max_side: int = 320,
) -> np.ndarray:
    """One row: image | ground truth | boundary map | each named prediction (e.g. ``{"cc": ..., "BAISeg": ...}``).

    Args:
        sample: dataset sample (``image``, ``instances`` may be None).
        boundary_prob: float H x W in [0, 1].
        predictions: title -> ``Instances``.
        class_names: K names for the labels.
        max_side: panels are downscaled so that their longer side is at most this.

    Returns:
        uint8 h x (n w) x 3.
    """
    image, gt = sample["image"], sample.get("instances")
    panels = [image, draw_ground_truth(image, gt, class_names, show_labels=False), heatmap(boundary_prob)]
    titles = ["image", "GT" if gt is None else f"GT {len(gt['masks'])}", "boundary B"]
    for title, inst in predictions.items():
        panels.append(draw_instances(image, inst, class_names, show_labels=False))
        titles.append(f"{title} {len(inst)}")
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        size = (max(round(w * scale), 1), max(round(h * scale), 1))
        panels = [cv2.resize(p, size, interpolation=cv2.INTER_AREA) for p in panels]
    return sheet(panels, titles, columns=len(panels))
