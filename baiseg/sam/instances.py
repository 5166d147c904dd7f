"""``sam_instances``: MobileSAM automatic masks prompted on the semantic foreground, assembled with the semantic map.

The practical competitor of BAISeg: a class-agnostic segmenter (SAM) provides the instance shapes, the same semantic
map as BAISeg's provides classes and restricts the masks (assembly.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from baiseg.errors import BaisegError
from baiseg.instances import Instances
from baiseg.sam.assembly import assemble_sam_instances
from baiseg.sam.config import SAMConfig
from baiseg.sam.model import require_segment_anything


def foreground_points(semantic: np.ndarray, points_per_side: int) -> np.ndarray:
    """The points of SAM's regular grid (cell centres) that fall on semantic foreground (ids 1..254).

    Args:
        semantic: uint8/int H x W semantic ids.
        points_per_side: grid size n (n x n points over the image).

    Returns:
        float64 M x 2 points (x, y), normalised to [0, 1] by the image width and height (SAM's ``point_grids``).
    """
    h, w = semantic.shape
    centres = (np.arange(points_per_side) + 0.5) / points_per_side
    xs, ys = np.meshgrid(centres, centres)
    grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
    col = np.minimum((grid[:, 0] * w).astype(np.int64), w - 1)
    row = np.minimum((grid[:, 1] * h).astype(np.int64), h - 1)
    sem = np.asarray(semantic)[row, col].astype(np.int64)
    return grid[(sem > 0) & (sem < 255)]


@torch.no_grad()
def sam_proposals(
    image: np.ndarray, semantic: np.ndarray, *, model: torch.nn.Module, cfg: SAMConfig | None = None
) -> dict[str, np.ndarray]:
    """SAM's three multimask outputs for every foreground grid point, unfiltered (``filter_proposals`` filters).

    The image is embedded once; the points are decoded in batches of ``points_per_batch`` as in SAM's automatic
    mask generator, and the logits are thresholded at the original resolution.

    Args:
        image: uint8 H x W x 3 RGB.
        semantic: uint8/int H x W semantic ids (only its foreground is used, to choose the prompts).
        model: MobileSAM (``load_mobilesam``) or any ``segment_anything`` ``Sam``.
        cfg: uses ``points_per_side``, ``points_per_batch``, ``stability_score_offset``.

    Returns:
        ``{"masks": bool P x H x W, "iou": float32 P (SAM predicted IoU), "stability": float32 P}`` with P = 3 x the
        number of foreground grid points (0 when none).
    """
    cfg = cfg or SAMConfig()
    h, w = _check_inputs(image, semantic)
    points = foreground_points(semantic, cfg.points_per_side) * np.array([w, h], np.float64)
    out = {"masks": np.zeros((0, h, w), bool), "iou": np.zeros((0,), np.float32),
           "stability": np.zeros((0,), np.float32)}  # fmt: skip
    if len(points) == 0:
        return out
    sa = require_segment_anything()
    from segment_anything.utils.amg import calculate_stability_score

    predictor = sa.SamPredictor(model)
    predictor.set_image(np.ascontiguousarray(image))
    masks, ious, stab = [], [], []
    for i in range(0, len(points), cfg.points_per_batch):
        coords = predictor.transform.apply_coords(points[i : i + cfg.points_per_batch], (h, w))
        in_points = torch.as_tensor(coords, dtype=torch.float32, device=predictor.device)[:, None, :]
        labels = torch.ones(in_points.shape[:2], dtype=torch.int, device=predictor.device)
        logits, iou, _ = predictor.predict_torch(in_points, labels, multimask_output=True, return_logits=True)
        logits = logits.flatten(0, 1)
        stab.append(calculate_stability_score(logits, model.mask_threshold, cfg.stability_score_offset).cpu())
        masks.append((logits > model.mask_threshold).cpu())
        ious.append(iou.flatten(0, 1).cpu())
    predictor.reset_image()
    out["masks"] = torch.cat(masks).numpy()
    out["iou"] = torch.cat(ious).float().numpy()
    out["stability"] = torch.cat(stab).float().numpy()
    return out


def filter_proposals(proposals: dict[str, np.ndarray], cfg: SAMConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
    """SAM's quality filters: predicted IoU > ``pred_iou_thresh``, stability >= ``stability_score_thresh``, then box
    NMS at ``box_nms_thresh`` (boxes of the masks, scored by predicted IoU).

    Args:
        proposals: ``sam_proposals`` output.
        cfg: uses the three thresholds.

    Returns:
        ``(masks bool M x H x W, predicted IoU float32 M)``, by descending predicted IoU.
    """
    from segment_anything.utils.amg import batched_mask_to_box
    from torchvision.ops import nms

    cfg = cfg or SAMConfig()
    keep = (proposals["iou"] > cfg.pred_iou_thresh) & (proposals["stability"] >= cfg.stability_score_thresh)
    masks, ious = proposals["masks"][keep], proposals["iou"][keep]
    if len(masks) == 0:
        return masks, ious
    boxes = batched_mask_to_box(torch.from_numpy(masks)).float()
    kept = nms(boxes, torch.from_numpy(ious).float(), cfg.box_nms_thresh).numpy()
    return masks[kept], ious[kept]


def sam_instances(
    image: np.ndarray,
    semantic: np.ndarray,
    *,
    model: torch.nn.Module,
    sem_prob: np.ndarray | None = None,
    cfg: SAMConfig | None = None,
    **overrides: Any,
) -> Instances:
    """Instances of one image: SAM proposals on the semantic foreground + assembly with the semantic map.

    Args:
        image: uint8 H x W x 3 RGB.
        semantic: uint8/int H x W semantic ids (0 background, 1..K classes, 255 void).
        model: MobileSAM (``baiseg.sam.load_mobilesam``).
        sem_prob: float (K + 1) x H x W class probabilities, or None (ground-truth semantics: probability 1).
        cfg: parameters (``SAMConfig()`` when None).
        **overrides: ``SAMConfig`` fields to replace, e.g. ``points_per_side=16, score="area"``.

    Returns:
        ``Instances``: masks bool N x H x W (disjoint), classes int64 N (1..K), scores float32 N in [0, 1]; sorted
        by descending score.
    """
    cfg = (cfg or SAMConfig()).with_overrides(**overrides)
    masks, ious = filter_proposals(sam_proposals(image, semantic, model=model, cfg=cfg), cfg)
    return assemble_sam_instances(masks, ious, semantic, sem_prob=sem_prob, cfg=cfg)


def _check_inputs(image: np.ndarray, semantic: np.ndarray) -> tuple[int, int]:
    """Validate shapes/dtypes; return (H, W)."""
    image, semantic = np.asarray(image), np.asarray(semantic)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise BaisegError(f"image must be uint8 H x W x 3 RGB, got {image.dtype} {image.shape}")
    if semantic.shape != image.shape[:2]:
        raise BaisegError(f"semantic map {semantic.shape[0]}x{semantic.shape[1]} does not match image "
                          f"{image.shape[0]}x{image.shape[1]}: resize it to the image (nearest neighbour)")  # fmt: skip
    return image.shape[0], image.shape[1]
