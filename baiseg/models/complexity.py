"""Parameters and multiply-accumulates per component, counted by ``torch.utils.flop_counter`` over a real forward.

The count runs on the meta device (no memory, no weights, milliseconds), so the paper-size model at 416x416 is
cheap to count. MACs = FLOPs / 2 as the flop counter reports them (convolutions and matrix products; element-wise
ops, pooling and interpolation are not counted).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from baiseg.config import ModelConfig

COMPONENTS = ("backbone", "semantic_head", "iabm", "projection_head")


def count_params(module: nn.Module) -> int:
    """Number of parameters (trainable or not) of ``module``."""
    return sum(p.numel() for p in module.parameters())


def model_complexity(cfg: ModelConfig, size: int | tuple[int, int] = 416) -> dict[str, dict[str, int]]:
    """Parameters and MACs of each component of ``build_model(cfg)`` for one image of ``size``.

    Args:
        cfg: model configuration (weights are not loaded).
        size: input side (square) or ``(height, width)`` in pixels.

    Returns:
        ``{"backbone": {"params": N, "macs": N}, "semantic_head": ..., "iabm": ..., "projection_head": ...,
        "total": ...}``. ``projection_head`` is used in training only (pixel contrast).
    """
    from baiseg.models.factory import build_model

    height, width = (size, size) if isinstance(size, int) else size
    with torch.device("meta"):
        model = build_model(cfg, load_weights=False).eval()
        images = torch.empty(1, 3, height, width)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(images, with_embeddings=True)
    flops = counter.get_flop_counts()
    root = type(model).__name__
    result = {}
    for name in COMPONENTS:
        macs = sum(flops.get(f"{root}.{name}", {}).values()) // 2
        result[name] = {"params": count_params(getattr(model, name)), "macs": int(macs)}
    result["total"] = {"params": count_params(model), "macs": int(counter.get_total_flops() // 2)}
    return result
