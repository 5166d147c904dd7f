"""The BAISeg network (paper Fig. 2): shared backbone -> semantic branch and IABD branch (IABM + projection)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from baiseg.models.backbone import Backbone
from baiseg.models.heads import ProjectionHead, concat_to_stride4
from baiseg.models.iabm import IABM

PAD_MULTIPLE = 32


class BAISeg(nn.Module):
    """Backbone -> (semantic head, IABM) -> raw logits; projection of the CFM features for the pixel contrast.

    Args:
        backbone: a ``Backbone`` (4 maps at strides 4..32).
        semantic_head: ``HRNetV2Head`` or ``FPNHead``: stride-4 logits.
        iabm: the boundary module, fed with the HRNetV2 concat F_b of the backbone maps.
        projection_head: projection of the boundary features (``embeddings``).

    Attributes:
        input_norm: ``(mean, std)`` per RGB channel in 0-255 pixel units expected for the input images.
    """

    def __init__(self, *, backbone: Backbone, semantic_head: nn.Module, iabm: IABM,
                 projection_head: ProjectionHead) -> None:
        super().__init__()
        self.backbone = backbone
        self.semantic_head = semantic_head
        self.iabm = iabm
        self.projection_head = projection_head
        self.input_norm: tuple[tuple[float, ...], tuple[float, ...]] = backbone.input_norm

    def count_forward(self, images: torch.Tensor) -> None:
        """The forward whose operations ``baiseg info`` counts (models/complexity.py): every branch, embeddings too."""
        self(images, with_embeddings=True)

    def forward(self, images: torch.Tensor, with_embeddings: bool | None = None) -> dict[str, torch.Tensor]:
        """Run the network on normalised images of any size (padded inside to a multiple of 32, outputs cropped).

        Args:
            images: N x 3 x H x W float, normalised with ``input_norm``.
            with_embeddings: compute ``embeddings`` (default: in training mode only).

        Returns:
            ``sem_logits`` N x (K+1) x H x W; ``boundary_logits`` N x 1 x H x W; ``boundary_features``
            N x dim x h x w (last CFM output) and, when asked, ``embeddings`` N x proj_dim x h x w (unit L2 norm over
            channels), with h = ceil(H / iabm_stride), w = ceil(W / iabm_stride). All raw (no sigmoid/softmax).
        """
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be N x 3 x H x W, got {tuple(images.shape)}")
        height, width = images.shape[-2:]
        pad_h, pad_w = (-height) % PAD_MULTIPLE, (-width) % PAD_MULTIPLE
        x = F.pad(images, (0, pad_w, 0, pad_h)) if pad_h or pad_w else images
        hp, wp = x.shape[-2:]
        feats = self.backbone(x)
        concat = concat_to_stride4(feats)
        sem = self.semantic_head(feats, concat)
        sem = crop(F.interpolate(sem, size=(hp, wp), mode="bilinear", align_corners=False), height, width)
        stride = self.iabm.stride
        boundary, bfeat = self.iabm(concat, (hp // stride, wp // stride))
        if stride > 1:
            boundary = F.interpolate(boundary, size=(hp, wp), mode="bilinear", align_corners=False)
        h, w = -(-height // stride), -(-width // stride)
        out = {"sem_logits": sem, "boundary_logits": crop(boundary, height, width),
               "boundary_features": crop(bfeat, h, w)}
        if with_embeddings if with_embeddings is not None else self.training:
            out["embeddings"] = self.projection_head(out["boundary_features"])
        return out


def crop(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``x[..., :height, :width]``, or ``x`` itself when it has that size already. The same tensor either way; the
    check keeps the slice out of a traced ONNX graph, whose input is padded to a multiple of 32 (``OnnxModel``
    refuses others), where onnxruntime would copy the full-resolution (K + 1)-channel logits for nothing."""
    if x.shape[-2] == height and x.shape[-1] == width:
        return x
    return x[..., :height, :width]
