"""Instance-Aware Boundary detection Module (paper §3.3): R cascaded CFMs + a 1x1 conv to one boundary logit.

Where the paper is silent the choices are ours (docs/MODEL.md "The IABM", docs/DEVIATIONS.md) and sized so that
parameters and MACs match Tables 4-5:

* CFM_n(x) = FFM(global=x_{n-1}, local=DMA(conv1x1(x_{n-1}))). The 1x1 conv is the CFM's feature mapping; in the
  first CFM it maps the backbone features F_b (C_b channels, upsampled to the IABM resolution as the paper's
  F_b in R^{HxWxC}) to ``dim``. The first CFM has no preceding CFM, so its FFM refines the local features alone.
* DMA = 3x3 conv-BN-ReLU embedding + MAU (eq. 2-5, learnable beta starting at 0).
* FFM = concat(global, local) -> 3x3 conv-BN-ReLU -> channel gate (SE-like) -> residual.

Per CFM this is about 29.25 dim^2 parameters (the first: 19.25 dim^2 + C_b dim).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn_relu(in_ch: int, out_ch: int, kernel: int) -> nn.Sequential:
    """Conv (no bias, 'same' padding) -> BatchNorm -> ReLU."""
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True))


def map_then_upsample(mapping: nn.Sequential, x: torch.Tensor, out_size: tuple[int, int]) -> torch.Tensor:
    """A ``conv_bn_relu`` 1x1 mapping applied to ``x`` upsampled to ``out_size``, with the conv run before the
    (bilinear) upsampling: a 1x1 conv and bilinear upsampling commute, BN and ReLU must follow the upsampling.

    Args:
        mapping: a ``conv_bn_relu(in_ch, dim, 1)`` block.
        x: N x in_ch x h x w.
        out_size: (H, W).

    Returns:
        N x dim x H x W.
    """
    conv, rest = mapping[0], mapping[1:]
    return rest(F.interpolate(conv(x), size=out_size, mode="bilinear", align_corners=False))


class MAU(nn.Module):
    """Mutual Attention Unit (paper eq. 2-5): F_att = conv1x1(f) + (f * F_c + f * F_s) * beta.

    Args:
        dim: channels of f.
        reduction: hidden width of the shared channel MLP is ``max(dim // reduction, 1)``.
    """

    def __init__(self, *, dim: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(dim // reduction, 1)
        self.mlp = nn.Sequential(nn.Conv2d(dim, hidden, 1, bias=False), nn.ReLU(inplace=True),
                                 nn.Conv2d(hidden, dim, 1, bias=False))
        self.spatial = nn.Conv2d(2, 1, 7, padding=3, bias=False)
        self.identity = nn.Conv2d(dim, dim, 1)
        self.beta = nn.Parameter(torch.zeros(1))

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        """Args: f: N x dim x h x w. Returns N x dim x h x w."""
        f_c = torch.sigmoid(self.mlp(F.adaptive_avg_pool2d(f, 1)) + self.mlp(F.adaptive_max_pool2d(f, 1)))
        pooled = torch.cat([f.mean(dim=1, keepdim=True), f.amax(dim=1, keepdim=True)], dim=1)
        f_s = torch.sigmoid(self.spatial(pooled))
        return self.identity(f) + (f * f_c + f * f_s) * self.beta


class DMA(nn.Module):
    """Deep Mutual Attention: 3x3 conv-BN-ReLU embedding then MAU. ``use_mau=False``: the embedding alone (ablation)."""

    def __init__(self, *, dim: int, reduction: int = 16, use_mau: bool = True) -> None:
        super().__init__()
        self.embed = conv_bn_relu(dim, dim, 3)
        self.mau = MAU(dim=dim, reduction=reduction) if use_mau else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """N x dim x h x w -> N x dim x h x w."""
        return self.mau(self.embed(x))


class FFM(nn.Module):
    """Feature Fusion Module: concat(global, local) -> 3x3 conv-BN-ReLU -> channel gate -> residual.

    Args:
        dim: channels of each input and of the output.
        with_global: False for the first CFM (no preceding CFM): fuse the local features alone.
        reduction: hidden width of the gate MLP is ``max(dim // reduction, 1)``.
    """

    def __init__(self, *, dim: int, with_global: bool = True, reduction: int = 16) -> None:
        super().__init__()
        self.with_global = with_global
        self.fuse = conv_bn_relu(2 * dim if with_global else dim, dim, 3)
        hidden = max(dim // reduction, 1)
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(dim, hidden, 1), nn.ReLU(inplace=True),
                                  nn.Conv2d(hidden, dim, 1), nn.Sigmoid())

    def forward(self, local: torch.Tensor, glob: torch.Tensor | None = None) -> torch.Tensor:
        """Args: local, glob: N x dim x h x w (``glob`` only when ``with_global``). Returns N x dim x h x w."""
        u = self.fuse(torch.cat([glob, local], dim=1) if self.with_global else local)
        return u + u * self.gate(u)


class CFM(nn.Module):
    """Cascade Fusion Module: 1x1 conv mapping -> DMA (local branch) -> FFM with the input (global branch).

    Args:
        in_ch: input channels (C_b for the first CFM, ``dim`` after).
        dim: hidden dim.
        first: the first CFM of the cascade (its FFM has no global input).
        use_dma: False replaces the DMA by a plain 3x3 conv-BN-ReLU (paper Table 3).
        reduction: MAU / gate MLP reduction.
    """

    def __init__(self, *, in_ch: int, dim: int, first: bool, use_dma: bool = True, reduction: int = 16) -> None:
        super().__init__()
        self.mapping = conv_bn_relu(in_ch, dim, 1)
        self.dma = DMA(dim=dim, reduction=reduction, use_mau=use_dma)
        self.ffm = FFM(dim=dim, with_global=not first, reduction=reduction)

    def forward(self, x: torch.Tensor, out_size: tuple[int, int] | None = None) -> torch.Tensor:
        """Args:
            x: N x in_ch x h x w.
            out_size: None: the output has the size of ``x``. ``(H, W)``: upsample to this size inside the module,
                after the mapping's 1x1 conv (``map_then_upsample``; the same function as upsampling ``x`` first,
                with fewer MACs). Only for the first CFM, whose FFM has no global input to upsample.

        Returns:
            N x dim x h x w (N x dim x H x W with ``out_size``).
        """
        if out_size is None:
            mapped = self.mapping(x)
        elif self.ffm.with_global:
            raise ValueError("out_size is only for the first CFM of a cascade (no global input)")
        else:
            mapped = map_then_upsample(self.mapping, x, out_size)
        local = self.dma(mapped)
        return self.ffm(local, None if not self.ffm.with_global else x)


class IABM(nn.Module):
    """R cascaded CFMs (or a plain conv stack when ``use_cfm=False``) and a 1x1 conv to one boundary logit.

    Args:
        in_ch: channels C_b of the backbone features F_b.
        dim: hidden dim of every CFM.
        num_cfm: R.
        stride: output stride of the module relative to the (padded) input image: 1 = full resolution (paper).
        use_cfm: False: baseline head = 1x1 conv-BN-ReLU mapping + R plain 3x3 conv-BN-ReLU blocks.
        use_dma: see ``CFM``.
        reduction: MAU / gate MLP reduction.
        lowres_mapping: run the first 1x1 mapping conv at the backbone resolution before upsampling: the same
            function (bilinear weights sum to 1, so a 1x1 conv and the upsampling commute), far fewer MACs and
            memory; False = the paper's full-resolution F_b, as counted in Tables 4-5.
    """

    def __init__(self, *, in_ch: int, dim: int = 128, num_cfm: int = 4, stride: int = 1, use_cfm: bool = True,
                 use_dma: bool = True, reduction: int = 16, lowres_mapping: bool = False) -> None:
        super().__init__()
        self.stride = stride
        self.lowres_mapping = lowres_mapping
        if use_cfm:
            blocks = [CFM(in_ch=in_ch if i == 0 else dim, dim=dim, first=i == 0, use_dma=use_dma, reduction=reduction)
                      for i in range(num_cfm)]
        else:
            blocks = [conv_bn_relu(in_ch, dim, 1)] + [conv_bn_relu(dim, dim, 3) for _ in range(num_cfm)]
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(dim, 1, 1)

    def forward(self, feats: torch.Tensor, out_size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Args:
            feats: F_b, N x C_b x h_b x w_b (float).
            out_size: (h, w) of the IABM, i.e. the padded input size divided by ``stride``.

        Returns:
            ``(boundary_logits N x 1 x h x w, boundary_features N x dim x h x w)``.
        """
        first = self.blocks[0]
        if not self.lowres_mapping:
            x = first(F.interpolate(feats, size=out_size, mode="bilinear", align_corners=False))
        elif isinstance(first, CFM):
            x = first(feats, out_size=out_size)
        else:  # plain stack: its first block is the 1x1 conv-BN-ReLU mapping
            x = map_then_upsample(first, feats, out_size)
        for block in self.blocks[1:]:
            x = block(x)
        return self.head(x), x
