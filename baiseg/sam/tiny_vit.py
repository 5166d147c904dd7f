"""TinyViT-5M image encoder of MobileSAM (Zhang et al. 2023, "Faster Segment Anything"), written from the paper's
description (TinyViT, Wu et al. 2022) with the module names of the released ``mobile_sam.pt`` state dict.

Layout: ``patch_embed`` (two stride-2 3x3 conv+BN, GELU between; 1024 -> 256) -> ``layers.0`` (MBConv blocks) ->
``layers.1..3`` (windowed-attention blocks with a depthwise "local" conv between attention and MLP), each layer but
the last ending in a ``downsample`` (1x1 conv, strided depthwise 3x3 conv, 1x1 conv). MobileSAM keeps the last
downsample at stride 1, so the features stay at 64 x 64, and adds a ``neck`` (1x1 conv, LayerNorm2d, 3x3 conv,
LayerNorm2d) to SAM's 256 channels. ``norm_head``/``head`` (the ImageNet classifier) are kept only so that the released
weights load strictly; ``forward`` does not use them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvBN(nn.Sequential):
    """Conv2d without bias followed by BatchNorm2d (state-dict names ``c`` and ``bn``)."""

    def __init__(self, in_ch: int, out_ch: int, *, kernel: int = 1, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.c = nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_ch)


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of an N x C x H x W tensor (eps 1e-6, as in SAM's neck)."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight[:, None, None] + self.bias[:, None, None]


class PatchEmbed(nn.Module):
    """N x 3 x H x W -> N x dim x H/4 x W/4."""

    def __init__(self, *, in_ch: int, dim: int) -> None:
        super().__init__()
        half = dim // 2
        self.seq = nn.Sequential(
            ConvBN(in_ch, half, kernel=3, stride=2), nn.GELU(), ConvBN(half, dim, kernel=3, stride=2)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seq(x)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand, depthwise 3x3, 1x1 project, residual, GELU. N x C x H x W -> same."""

    def __init__(self, *, dim: int, expand_ratio: float = 4.0) -> None:
        super().__init__()
        hidden = int(dim * expand_ratio)
        self.conv1 = ConvBN(dim, hidden)
        self.conv2 = ConvBN(hidden, hidden, kernel=3, groups=hidden)
        self.conv3 = ConvBN(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.gelu(self.conv2(F.gelu(self.conv1(x))))
        return F.gelu(x + self.conv3(y))


class PatchMerging(nn.Module):
    """N x dim x H x W -> N x out_dim x H/stride x W/stride (1x1, strided depthwise 3x3, 1x1; GELU between)."""

    def __init__(self, *, dim: int, out_dim: int, stride: int) -> None:
        super().__init__()
        self.conv1 = ConvBN(dim, out_dim)
        self.conv2 = ConvBN(out_dim, out_dim, kernel=3, stride=stride, groups=out_dim)
        self.conv3 = ConvBN(out_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(F.gelu(self.conv2(F.gelu(self.conv1(x)))))


class Attention(nn.Module):
    """Multi-head self-attention inside one window with a learned bias per head and |dy|, |dx| offset.

    Input/output: B x N x dim tokens, N = window_size**2 (pre-norm inside: ``norm`` then ``qkv``).
    """

    def __init__(self, *, dim: int, num_heads: int, window_size: int) -> None:
        super().__init__()
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, window_size * window_size))
        ys, xs = torch.meshgrid(torch.arange(window_size), torch.arange(window_size), indexing="ij")
        ys, xs = ys.flatten(), xs.flatten()
        # the offsets are numbered in their order of first appearance over (p1, p2) pairs: (dy, dx) -> dy * ws + dx
        idx = (ys[:, None] - ys[None]).abs() * window_size + (xs[:, None] - xs[None]).abs()
        self.register_buffer("bias_idx", idx, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        qkv = self.qkv(self.norm(x)).view(b, n, self.num_heads, 3 * self.head_dim).permute(0, 2, 1, 3)
        q, k, v = qkv.split(self.head_dim, dim=-1)  # per head: [q | k | v]
        bias = self.attention_biases[:, self.bias_idx].to(q.dtype)  # heads x N x N
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.proj(y.transpose(1, 2).reshape(b, n, -1))


class Mlp(nn.Module):
    """Pre-norm MLP: LayerNorm, Linear, GELU, Linear. B x N x dim -> same."""

    def __init__(self, *, dim: int, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(self.norm(x))))


class TinyViTBlock(nn.Module):
    """Windowed attention (zero padding to whole windows) + residual, depthwise 3x3 conv, MLP + residual.

    Input/output: N x dim x H x W.
    """

    def __init__(self, *, dim: int, num_heads: int, window_size: int, mlp_ratio: float) -> None:
        super().__init__()
        self.window_size = window_size
        self.attn = Attention(dim=dim, num_heads=num_heads, window_size=window_size)
        self.local_conv = ConvBN(dim, dim, kernel=3, groups=dim)
        self.mlp = Mlp(dim=dim, hidden=int(dim * mlp_ratio))

    def _window_attention(self, x: torch.Tensor) -> torch.Tensor:
        """N x H x W x C -> N x H x W x C."""
        n, h, w, c = x.shape
        ws = self.window_size
        pad_b, pad_r = (ws - h % ws) % ws, (ws - w % ws) % ws
        x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        gh, gw = (h + pad_b) // ws, (w + pad_r) // ws
        x = x.view(n, gh, ws, gw, ws, c).transpose(2, 3).reshape(n * gh * gw, ws * ws, c)
        x = self.attn(x)
        x = x.view(n, gh, gw, ws, ws, c).transpose(2, 3).reshape(n, gh * ws, gw * ws, c)
        return x[:, :h, :w]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        t = x.permute(0, 2, 3, 1)
        t = t + self._window_attention(t)
        x = self.local_conv(t.permute(0, 3, 1, 2))
        t = x.flatten(2).transpose(1, 2)  # N x HW x C
        t = t + self.mlp(t)
        return t.transpose(1, 2).reshape(n, c, h, w)


class Stage(nn.Module):
    """``blocks`` at one resolution, then an optional ``downsample`` (PatchMerging). N x dim x H x W in."""

    def __init__(self, blocks: list[nn.Module], downsample: nn.Module | None) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for blk in self.blocks:
            x = blk(x)
        return x if self.downsample is None else self.downsample(x)


class TinyViT(nn.Module):
    """MobileSAM image encoder: N x 3 x 1024 x 1024 (SAM-normalised) -> N x 256 x 64 x 64 image embedding.

    ``img_size`` is read by ``segment_anything.SamPredictor`` to resize the long image side.
    """

    def __init__(
        self,
        *,
        img_size: int = 1024,
        embed_dims: tuple[int, ...] = (64, 128, 160, 320),
        depths: tuple[int, ...] = (2, 2, 6, 2),
        num_heads: tuple[int, ...] = (2, 4, 5, 10),
        window_sizes: tuple[int, ...] = (7, 7, 14, 7),
        downsample_strides: tuple[int, ...] = (2, 2, 1),
        mlp_ratio: float = 4.0,
        out_chans: int = 256,
        num_classes: int = 1000,
    ) -> None:
        super().__init__()
        self.img_size = img_size
        self.patch_embed = PatchEmbed(in_ch=3, dim=embed_dims[0])
        self.layers = nn.ModuleList()
        for i, (dim, depth) in enumerate(zip(embed_dims, depths)):
            if i == 0:
                blocks: list[nn.Module] = [MBConv(dim=dim) for _ in range(depth)]
            else:
                blocks = [TinyViTBlock(dim=dim, num_heads=num_heads[i], window_size=window_sizes[i],
                                       mlp_ratio=mlp_ratio) for _ in range(depth)]  # fmt: skip
            down = None
            if i + 1 < len(embed_dims):
                down = PatchMerging(dim=dim, out_dim=embed_dims[i + 1], stride=downsample_strides[i])
            self.layers.append(Stage(blocks, down))
        self.norm_head = nn.LayerNorm(embed_dims[-1])
        self.head = nn.Linear(embed_dims[-1], num_classes)
        self.neck = nn.Sequential(
            nn.Conv2d(embed_dims[-1], out_chans, 1, bias=False),
            LayerNorm2d(out_chans),
            nn.Conv2d(out_chans, out_chans, 3, padding=1, bias=False),
            LayerNorm2d(out_chans),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        for layer in self.layers:
            x = layer(x)
        return self.neck(x)
