"""A tiny stand-in with BAISeg's forward contract, so engine tests don't depend on the real network's speed."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class TinyBAISeg(nn.Module):
    input_norm = ((127.0, 127.0, 127.0), (128.0, 128.0, 128.0))

    def __init__(self, num_classes: int, dim: int = 8, proj_dim: int = 8) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, dim, 3, padding=1), nn.BatchNorm2d(dim), nn.ReLU(),
                                  nn.Conv2d(dim, dim, 3, padding=1), nn.ReLU())
        self.sem = nn.Conv2d(dim, num_classes, 1)
        self.boundary = nn.Conv2d(dim, 1, 1)
        self.proj = nn.Sequential(nn.Conv2d(dim, dim, 1), nn.ReLU(), nn.Conv2d(dim, proj_dim, 1))

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        f = self.stem(x)
        return {"sem_logits": self.sem(f), "boundary_logits": self.boundary(f),
                "embeddings": F.normalize(self.proj(f), dim=1)}


def build_tiny(model_cfg) -> nn.Module:
    return TinyBAISeg(model_cfg.num_classes, dim=model_cfg.iabm_dim)
