"""Semantic heads (HRNetV2 and FPN), the HRNetV2 feature concat, and the pixel-contrast projection head."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from baiseg.models.iabm import conv_bn_relu


def concat_to_stride4(feats: list[torch.Tensor]) -> torch.Tensor:
    """HRNetV2 representation: upsample every level to the first (stride 4) and concatenate.

    Args:
        feats: 4 maps N x C_i x H/s_i x W/s_i.

    Returns:
        N x sum(C_i) x H/4 x W/4 (720 channels for HRNet-W48).
    """
    size = feats[0].shape[-2:]
    ups = [feats[0]] + [F.interpolate(f, size=size, mode="bilinear", align_corners=False) for f in feats[1:]]
    return torch.cat(ups, dim=1)


class HRNetV2Head(nn.Module):
    """HRNetV2 segmentation head: concat (stride 4) -> 1x1 conv-BN-ReLU -> 1x1 conv to classes.

    Args:
        in_ch: channels of the concat (sum of the backbone channels).
        num_classes: K + 1 (background included).
    """

    def __init__(self, *, in_ch: int, num_classes: int) -> None:
        super().__init__()
        self.block = conv_bn_relu(in_ch, in_ch, 1)
        self.classifier = nn.Conv2d(in_ch, num_classes, 1)

    def forward(self, feats: list[torch.Tensor], concat: torch.Tensor) -> torch.Tensor:
        """Returns logits N x num_classes x H/4 x W/4 (``feats`` unused: the concat is given)."""
        return self.classifier(self.block(concat))


class FPNHead(nn.Module):
    """FPN decoder: 1x1 laterals -> top-down sum -> 3x3 conv-BN-ReLU per level -> sum at stride 4 -> classes.

    Args:
        in_channels: the 4 backbone channels (strides 4..32).
        dim: decoder width.
        num_classes: K + 1.
    """

    def __init__(self, *, in_channels: list[int], dim: int = 128, num_classes: int) -> None:
        super().__init__()
        self.laterals = nn.ModuleList(nn.Conv2d(c, dim, 1) for c in in_channels)
        self.smooth = nn.ModuleList(conv_bn_relu(dim, dim, 3) for _ in in_channels)
        self.classifier = nn.Conv2d(dim, num_classes, 1)

    def forward(self, feats: list[torch.Tensor], concat: torch.Tensor | None = None) -> torch.Tensor:
        """Args: feats: 4 maps N x C_i x H/s_i x W/s_i. Returns logits N x num_classes x H/4 x W/4."""
        x = self.laterals[-1](feats[-1])
        outs = [self.smooth[-1](x)]
        for i in range(len(feats) - 2, -1, -1):
            x = self.laterals[i](feats[i]) + F.interpolate(x, size=feats[i].shape[-2:], mode="bilinear",
                                                           align_corners=False)
            outs.append(self.smooth[i](x))
        size = feats[0].shape[-2:]
        fused = sum(F.interpolate(o, size=size, mode="bilinear", align_corners=False) for o in outs[:-1]) + outs[-1]
        return self.classifier(fused)


class ProjectionHead(nn.Module):
    """Pixel-contrast projection (1x1 conv-BN-ReLU -> 1x1), L2-normalised over channels.

    Args:
        in_ch: channels of the CFM features.
        proj_dim: embedding width (256 in Wang et al. 2021).
    """

    def __init__(self, *, in_ch: int, proj_dim: int = 256) -> None:
        super().__init__()
        self.proj = nn.Sequential(conv_bn_relu(in_ch, in_ch, 1), nn.Conv2d(in_ch, proj_dim, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """N x in_ch x h x w -> N x proj_dim x h x w, unit L2 norm per pixel."""
        return F.normalize(self.proj(x), dim=1)
