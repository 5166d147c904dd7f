"""``sam_refine``: BAISeg decides the instances and their number, MobileSAM redraws the borders between them.

The optional "BAISeg + SAM" stage of docs/GENERALISATION.md. Each instance prompts SAM with its box and one interior
point (the deepest pixel of its mask); of SAM's three answers the one that agrees best with the instance is taken,
cut to the instance's semantic class region, and accepted when it still overlaps the instance by ``accept_iou``.
Pixels are then re-owned: a foreground pixel covered by exactly one accepted SAM mask goes to that instance; a pixel
covered by several keeps its BAISeg owner when that owner is among them (else the first by score); a pixel no
accepted mask covers keeps its BAISeg owner. So the stage never adds or removes instances and never moves pixels off
the semantic foreground: it only moves the borders where SAM sees an edge that BAISeg's boundary map placed
elsewhere (touching objects), which is where the two disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from baiseg.errors import BaisegError
from baiseg.instances import Instances
from baiseg.sam.model import require_segment_anything


@dataclass(frozen=True)
class SAMRefineConfig:
    """Parameters of ``sam_refine``.

    Attributes:
        accept_iou: a SAM mask (cut to the class region) replaces its instance's extent only if its IoU with the
            instance's mask is at least this, in [0, 1]; lower answers are SAM segmenting something else.
        box_margin_px: the prompt box is the mask's box grown by this many pixels on each side.
        prompts_per_batch: instances decoded at once (memory: batch x 3 x H x W float32 logits).
    """

    accept_iou: float = 0.5
    box_margin_px: int = 2
    prompts_per_batch: int = 16

    def __post_init__(self) -> None:
        if not 0.0 <= self.accept_iou <= 1.0:
            raise BaisegError(f"SAMRefineConfig.accept_iou must be in [0, 1], got {self.accept_iou}")
        if self.box_margin_px < 0 or self.prompts_per_batch < 1:
            raise BaisegError("SAMRefineConfig.box_margin_px must be >= 0 and prompts_per_batch >= 1")


def instance_prompts(masks: np.ndarray, margin: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """One box and one interior point per mask.

    Args:
        masks: bool N x H x W, each non-empty.
        margin: pixels added to each side of the box (clipped to the image).

    Returns:
        ``(boxes float32 N x 4 as x0, y0, x1, y1 in pixels, points float32 N x 2 as x, y)``; the point is the mask
        pixel farthest from the mask's outside (the centre of its largest inscribed disc).
    """
    n, h, w = masks.shape
    boxes, points = np.zeros((n, 4), np.float32), np.zeros((n, 2), np.float32)
    for i in range(n):
        ys, xs = np.nonzero(masks[i])
        if len(ys) == 0:
            raise BaisegError(f"instance {i} has an empty mask: drop empty instances before sam_refine")
        y0, y1, x0, x1 = ys.min(), ys.max(), xs.min(), xs.max()
        boxes[i] = (max(x0 - margin, 0), max(y0 - margin, 0), min(x1 + 1 + margin, w), min(y1 + 1 + margin, h))
        crop = np.pad(masks[i, y0 : y1 + 1, x0 : x1 + 1].astype(np.uint8), 1)
        dist = cv2.distanceTransform(crop, cv2.DIST_L2, 3)
        py, px = np.unravel_index(int(np.argmax(dist)), dist.shape)
        points[i] = (x0 + px - 1 + 0.5, y0 + py - 1 + 0.5)
    return boxes, points


def _iou_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of each of K candidate masks a (K x M x P, bool) with its reference b (K x P, bool) -> K x M."""
    inter = (a & b[:, None]).sum(-1)
    union = (a | b[:, None]).sum(-1)
    return inter / np.maximum(union, 1)


@torch.no_grad()
def sam_masks_for_instances(
    image: np.ndarray, masks: np.ndarray, classes: np.ndarray, semantic: np.ndarray, *, model: torch.nn.Module,
    cfg: SAMRefineConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """SAM's answer for each instance, cut to its class region.

    Returns:
        ``(sam bool N x H x W, iou float32 N)``: the chosen SAM mask of each instance (the one of SAM's three with
        the highest IoU with the instance, after the cut) and that IoU.
    """
    sa = require_segment_anything()
    n, h, w = masks.shape
    boxes, points = instance_prompts(masks, cfg.box_margin_px)
    predictor = sa.SamPredictor(model)
    predictor.set_image(np.ascontiguousarray(image))
    out, ious = np.zeros((n, h, w), bool), np.zeros(n, np.float32)
    sem = np.asarray(semantic)
    for s in range(0, n, cfg.prompts_per_batch):
        e = min(s + cfg.prompts_per_batch, n)
        dev = predictor.device
        b = torch.as_tensor(predictor.transform.apply_boxes(boxes[s:e], (h, w)), dtype=torch.float32, device=dev)
        p = torch.as_tensor(predictor.transform.apply_coords(points[s:e], (h, w)), dtype=torch.float32, device=dev)
        labels = torch.ones((e - s, 1), dtype=torch.int, device=dev)
        logits, _, _ = predictor.predict_torch(p[:, None, :], labels, boxes=b, multimask_output=True,
                                               return_logits=True)  # fmt: skip
        cand = (logits > model.mask_threshold).cpu().numpy()  # B x 3 x H x W
        region = sem[None] == classes[s:e, None, None]  # B x H x W: the class region of each instance
        cand &= region[:, None]
        iou = _iou_rows(cand.reshape(e - s, 3, -1), masks[s:e].reshape(e - s, -1))
        best = iou.argmax(1)
        out[s:e] = cand[np.arange(e - s), best]
        ious[s:e] = iou[np.arange(e - s), best]
    predictor.reset_image()
    return out, ious


def sam_refine(
    image: np.ndarray,
    instances: dict[str, np.ndarray],
    semantic: np.ndarray,
    *,
    model: torch.nn.Module,
    cfg: SAMRefineConfig | None = None,
) -> Instances:
    """Redraw the borders of disjoint instances with MobileSAM (see the module docstring for the rule).

    Args:
        image: uint8 H x W x 3 RGB.
        instances: masks bool N x H x W (disjoint), classes 1..K, scores, by descending score (BAISeg's output).
        semantic: int H x W semantic ids (0 background, 1..K classes, 255 void) the instances were assembled from
            (GT or the model's argmax).
        model: MobileSAM (``baiseg.sam.load_mobilesam``).
        cfg: ``SAMRefineConfig()`` when None.

    Returns:
        The same instances in the same order, their masks redrawn and still disjoint; instances that lose every pixel
        are dropped.
    """
    cfg = cfg or SAMRefineConfig()
    masks = instances.masks
    image, semantic = np.asarray(image), np.asarray(semantic)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise BaisegError(f"image must be uint8 H x W x 3 RGB, got {image.dtype} {image.shape}")
    if semantic.shape != image.shape[:2] or masks.shape[1:] != image.shape[:2]:
        raise BaisegError(f"semantic map {semantic.shape} and masks {masks.shape[1:]} must match the image "
                          f"{image.shape[:2]}")  # fmt: skip
    found = instances.select(masks.reshape(len(masks), -1).any(1))
    if len(found) == 0:
        return found
    sam, iou = sam_masks_for_instances(image, found.masks, found.classes, semantic, model=model, cfg=cfg)
    sam &= (iou >= cfg.accept_iou)[:, None, None]
    new = reassign(found.masks, sam)
    kept = new.reshape(len(new), -1).any(1)
    return Instances(new[kept], found.classes[kept], found.scores[kept])


def reassign(owners: np.ndarray, claims: np.ndarray) -> np.ndarray:
    """Re-own pixels: a pixel claimed by exactly one instance goes to it; claimed by several, it stays with its
    owner when the owner claims it, else goes to the first claimant (index order); claimed by none, it stays.

    Args:
        owners: bool N x H x W disjoint masks (the current owners).
        claims: bool N x H x W masks that may overlap (the redrawn extents).

    Returns:
        bool N x H x W disjoint masks; their union is the union of ``owners`` and of ``claims``.
    """
    n = len(owners)
    owner = np.where(owners.any(0), owners.argmax(0), -1)
    count = claims.sum(0)
    first = claims.argmax(0)
    owner_claims = np.zeros(owner.shape, bool)
    has = owner >= 0
    owner_claims[has] = np.take_along_axis(claims, np.maximum(owner, 0)[None], 0)[0][has]
    label = owner.copy()
    label[count == 1] = first[count == 1]
    several = (count > 1) & ~owner_claims
    label[several] = first[several]
    return label[None] == np.arange(n)[:, None, None]
