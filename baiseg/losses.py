"""Training losses of BAISeg (paper §3.2 eq. 1, §3.4 eq. 6, §3.5 eq. 7; deviations in docs/DEVIATIONS.md).

- ``boundary_loss`` (L_B): HED class-balanced binary cross-entropy against the semantic-contour label.
- ``pixel_contrast_loss`` (L_P): weighted pixel-to-pixel contrast between boundary and non-boundary embeddings.
- ``topk_cross_entropy`` (L_S): cross-entropy over the hardest fraction of pixels (DeepLab / Panoptic-DeepLab).
- ``BAISegCriterion``: ``L = w_contrast * L_P + w_boundary * L_B + w_sem * L_S``.

Every loss is computed in float32 (also under bf16 autocast) and treats label 255 as "ignore": ignored pixels
contribute nothing, neither to the loss nor to the class-balance weight alpha.
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from baiseg.config import LossConfig


class EmptyContourWarning(UserWarning):
    """A training batch whose contour label T has no positive pixel (shown once per process by default)."""


def boundary_loss(logits: Tensor, target: Tensor, ignore_index: int = 255) -> Tensor:
    """L_B, eq. 1: HED class-balanced BCE, mean over the valid pixels of the batch.

    Per image, alpha = |Y-| / (|Y-| + |Y+|) counted over its valid pixels; boundary pixels are weighted alpha,
    non-boundary pixels 1 - alpha, so both classes carry the same total weight whatever their ratio.

    Args:
        logits: N x 1 x H x W or N x H x W, boundary logits (any float dtype).
        target: N x H x W, values 0 (non-boundary), 1 (boundary) or ``ignore_index``.
        ignore_index: label of pixels that carry no supervision.

    Returns:
        Scalar float32 tensor >= 0 (0 when no pixel is valid, still attached to the graph).
    """
    logits = logits.reshape(target.shape).float()
    valid = target != ignore_index
    pos = (target == 1) & valid
    neg = (target == 0) & valid
    n_pos = pos.flatten(1).sum(1).float()
    n_neg = neg.flatten(1).sum(1).float()
    alpha = (n_neg / (n_pos + n_neg).clamp_min(1.0)).view(-1, *([1] * (target.dim() - 1)))
    weight = torch.where(pos, alpha, torch.where(neg, 1.0 - alpha, torch.zeros_like(alpha)))
    y = pos.float()
    bce = F.binary_cross_entropy_with_logits(logits, y, weight=weight, reduction="sum")
    return bce / valid.sum().clamp_min(1).float()


def topk_cross_entropy(logits: Tensor, target: Tensor, top_k: float = 0.2, ignore_index: int = 255) -> Tensor:
    """L_S: cross-entropy averaged over the ``top_k`` fraction of valid pixels with the largest loss.

    Args:
        logits: N x C x H x W semantic logits.
        target: N x H x W int64 semantic ids in [0, C), or ``ignore_index``.
        top_k: fraction in (0, 1] of the valid pixels of the batch kept (1 = plain CE).
        ignore_index: ignored label.

    Returns:
        Scalar float32 tensor >= 0 (0 when no pixel is valid).
    """
    pixel = F.cross_entropy(logits.float(), target.long(), ignore_index=ignore_index, reduction="none").flatten()
    valid = (target != ignore_index).flatten()
    n_valid = int(valid.sum())
    if n_valid == 0:
        return logits.sum().float() * 0.0
    pixel = pixel[valid]
    k = max(1, math.ceil(top_k * n_valid)) if top_k < 1.0 else n_valid
    if k < n_valid:
        pixel = pixel.topk(k, sorted=False).values
    return pixel.mean()


def _downsample_labels(labels: Tensor, size: tuple[int, int]) -> Tensor:
    """Nearest-neighbour resize of N x H x W labels to N x h x w (no-op when the size already matches)."""
    if tuple(labels.shape[-2:]) == tuple(size):
        return labels
    return F.interpolate(labels[:, None].float(), size=size, mode="nearest")[:, 0]


def sample_anchors(
    labels: Tensor,
    preds: Tensor,
    max_samples: int = 1024,
    max_views: int = 100,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Choose anchor pixels across the batch: per image and class, up to ``n_view`` pixels, half hard and half easy.

    ``n_view = min(max_views, max_samples // number of (image, class) pairs present)``; "hard" pixels are those whose
    prediction differs from the label. When one kind is short, the other fills the quota.

    Args:
        labels: N x h x w, 0 / 1 / 255 (ignored).
        preds: N x h x w, predicted class 0 / 1.
        max_samples, max_views: sampling budget (Wang et al. 2021).
        generator: RNG for the random choice (default: torch's global CPU RNG).

    Returns:
        ``(flat_index, label)``: int64 indices into ``labels.flatten()`` and their labels (int64), each of length M.
    """
    flat_y = labels.flatten(1).cpu()
    flat_p = preds.flatten(1).cpu()
    pairs = [(b, c) for b in range(flat_y.shape[0]) for c in (0, 1) if bool((flat_y[b] == c).any())]
    if not pairs:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    n_view = max(1, min(max_views, max_samples // len(pairs)))
    index, label = [], []
    hw = flat_y.shape[1]
    for b, c in pairs:
        is_c = flat_y[b] == c
        hard = torch.nonzero(is_c & (flat_p[b] != c)).flatten()
        easy = torch.nonzero(is_c & (flat_p[b] == c)).flatten()
        n_hard = min(len(hard), max(n_view // 2, n_view - len(easy)))
        n_easy = min(len(easy), n_view - n_hard)
        chosen = torch.cat([
            hard[torch.randperm(len(hard), generator=generator)[:n_hard]],
            easy[torch.randperm(len(easy), generator=generator)[:n_easy]],
        ])
        index.append(chosen + b * hw)
        label.append(torch.full_like(chosen, c))
    return torch.cat(index), torch.cat(label)


def contrast_from_samples(feats: Tensor, labels: Tensor, alpha: float, temperature: float = 0.2) -> Tensor:
    """Eq. 6 over M sampled embeddings: every sample is an anchor; positives share its label, negatives don't.

    loss(i) = mean over positives p of  -alpha * log( e^{i.p/T} / (e^{i.p/T} + (1 - alpha) * sum_n e^{i.n/T}) ),
    averaged over the anchors that have at least one positive.

    Args:
        feats: M x D embeddings (L2-normalised).
        labels: M int64 class labels.
        alpha: |Y-| / (|Y-| + |Y+|) in [0, 1].
        temperature: tau.

    Returns:
        Scalar float32 tensor (0, attached to the graph, when no anchor has a positive).
    """
    feats = feats.float()
    m = feats.shape[0]
    logits = feats @ feats.T / temperature
    logits = logits - logits.max(dim=1, keepdim=True).values.detach()  # the ratio is shift-invariant per row
    same = labels[:, None] == labels[None, :]
    not_self = ~torch.eye(m, dtype=torch.bool, device=feats.device)
    pos_mask = same & not_self
    neg_mask = ~same
    exp = logits.exp()
    neg_sum = (exp * neg_mask).sum(1, keepdim=True)
    log_prob = logits - torch.log(exp + (1.0 - alpha) * neg_sum)
    n_pos = pos_mask.sum(1)
    has_pos = n_pos > 0
    if not bool(has_pos.any()):
        return feats.sum() * 0.0
    per_anchor = -(log_prob * pos_mask).sum(1)[has_pos] / n_pos[has_pos]
    return alpha * per_anchor.mean()


def pixel_contrast_loss(
    embeddings: Tensor,
    contour: Tensor,
    boundary_logits: Tensor | None = None,
    temperature: float = 0.2,
    max_samples: int = 1024,
    max_views: int = 100,
    ignore_index: int = 255,
    generator: torch.Generator | None = None,
) -> Tensor:
    """L_P, eq. 6: weighted pixel-to-pixel contrast of boundary vs non-boundary embeddings, anchors from the batch.

    Args:
        embeddings: N x D x h x w, L2-normalised over D.
        contour: N x H x W label (0 / 1 / ``ignore_index``), resized to h x w by nearest neighbour.
        boundary_logits: N x 1 x H' x W' predictions defining "hard" samples (sigmoid > 0.5); None: all easy.
        temperature, max_samples, max_views: see ``LossConfig``.
        ignore_index: ignored label.
        generator: RNG for the anchor choice.

    Returns:
        Scalar float32 tensor >= 0; alpha = |Y-| / (|Y-| + |Y+|) over the valid pixels of the batch.
    """
    size = tuple(embeddings.shape[-2:])
    labels = _downsample_labels(contour, size).round().long()
    labels = torch.where((labels == 0) | (labels == 1), labels, torch.full_like(labels, ignore_index))
    if boundary_logits is None:
        preds = labels.clamp_max(1)
    else:
        logits = boundary_logits.detach().float()
        preds = (_downsample_labels(logits.reshape(-1, *logits.shape[-2:]), size) > 0).long()
    n_pos = int((labels == 1).sum())
    n_neg = int((labels == 0).sum())
    if n_pos == 0 or n_neg == 0:
        return embeddings.sum().float() * 0.0
    alpha = n_neg / (n_pos + n_neg)
    index, lab = sample_anchors(labels, preds, max_samples, max_views, generator)
    d = embeddings.shape[1]
    flat = embeddings.permute(0, 2, 3, 1).reshape(-1, d)
    return contrast_from_samples(flat[index.to(flat.device)], lab.to(flat.device), alpha, temperature)


class BAISegCriterion(nn.Module):
    """Overall loss, eq. 7: ``L = w_contrast * L_P + w_boundary * L_B + w_sem * L_S``.

    Args:
        cfg: loss weights and options (``baiseg.config.LossConfig``).
    """

    def __init__(self, cfg: LossConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def forward(self, outputs: dict[str, Tensor], batch: dict[str, Tensor], iteration: int | None = None) -> dict:
        """Compute the losses of one batch.

        Args:
            outputs: model outputs (``sem_logits`` N x C x H x W, ``boundary_logits`` N x 1 x H x W, ``embeddings``
                N x D x h x w).
            batch: ``semantic`` int64 N x H x W (255 ignore), ``contour`` float32 N x H x W (0 / 1 / 255).
            iteration: current iteration (0-based); L_P is off while ``iteration < contrast_warmup_iters``.

        Returns:
            ``{"loss", "loss_boundary", "loss_contrast", "loss_sem"}``: float32 scalars, the first weighted, the
            others unweighted.
        """
        device_type = outputs["boundary_logits"].device.type
        with torch.autocast(device_type=device_type, enabled=False):  # losses in float32, also under bf16
            return self._losses(outputs, batch, iteration)

    def _losses(self, outputs: dict[str, Tensor], batch: dict[str, Tensor], iteration: int | None) -> dict:
        c = self.cfg
        contour = batch["contour"]
        semantic = batch["semantic"]
        if self.training and not bool((contour == 1).any()):
            warnings.warn(
                "a training batch's contour label T has no contour pixel: L_B and L_P are 0 for it (if this repeats, "
                "check the labels with `baiseg data check`; void bands: docs/DATA.md)",
                EmptyContourWarning,
                stacklevel=2,
            )
        l_b = boundary_loss(outputs["boundary_logits"], contour, c.ignore_index)
        l_s = topk_cross_entropy(outputs["sem_logits"], semantic, c.sem_topk, c.ignore_index)
        emb = outputs.get("embeddings")
        warm = iteration is not None and iteration < c.contrast_warmup_iters
        if emb is None:
            l_p = l_b * 0.0
        elif not c.use_contrast or warm:
            l_p = emb.sum().float() * 0.0  # keeps the projection in the graph (DDP needs every parameter used)
        else:
            l_p = pixel_contrast_loss(
                emb, contour, outputs["boundary_logits"], c.temperature, c.contrast_max_samples,
                c.contrast_max_views, c.ignore_index,
            )
        total = c.w_contrast * l_p + c.w_boundary * l_b + c.w_sem * l_s
        return {"loss": total, "loss_boundary": l_b, "loss_contrast": l_p, "loss_sem": l_s}
