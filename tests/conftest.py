"""Shared fixtures. Tests run on CPU in seconds; data from ../shared/data is optional (tests skip without it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``$BAISEG_SHARED_DATA`` or ``<repo>/../shared/data``."""
    return Path(os.environ.get("BAISEG_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only data folder; skips the test when it is absent."""
    d = shared_data_dir()
    if not d.is_dir():
        pytest.skip(f"shared data not found at {d}")
    return d


@pytest.fixture(autouse=True)
def _few_threads():
    """Keep torch to one thread per test process so tests stay fast and reproducible on 2-core machines."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _edge_net_class():
    import torch
    from torch import nn

    class EdgeNet(nn.Module):
        """Stand-in network with the model contract: boundary logits from intensity edges, semantic logits (2 classes)
        from brightness. Deterministic, no training needed."""

        input_norm = ((0.0, 0.0, 0.0), (255.0, 255.0, 255.0))

        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(torch.tensor(60.0))

        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            g = x.mean(1, keepdim=True)
            gx = torch.nn.functional.pad((g[..., :, 1:] - g[..., :, :-1]).abs(), (0, 1, 0, 0))
            gy = torch.nn.functional.pad((g[..., 1:, :] - g[..., :-1, :]).abs(), (0, 0, 0, 1))
            edge = torch.nn.functional.max_pool2d(gx + gy, 3, 1, 1)
            fg = (g > 0.1).float()
            sem = torch.cat([(1 - fg) * 5, fg * 5], 1)
            return {"sem_logits": sem, "boundary_logits": self.scale * edge - 5, "embeddings": g}

    return EdgeNet


@pytest.fixture(scope="session")
def edge_net():
    """The class of a deterministic stand-in network (see ``_edge_net_class``); call it to get a module."""
    return _edge_net_class()


@pytest.fixture(scope="session")
def rows_net():
    """A stand-in network factory: boundaries on every 8th row, class 1 everywhere else (4 semantic outputs: K = 3)."""
    import torch

    class RowsNet(torch.nn.Module):
        input_norm = ((0.0, 0.0, 0.0), (255.0, 255.0, 255.0))

        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            n, _, h, w = x.shape
            sem = torch.zeros(n, 4, h, w)
            sem[:, 1] = 5.0
            b = torch.full((n, 1, h, w), -10.0)
            b[:, :, ::8] = 10.0
            return {"sem_logits": sem, "boundary_logits": b}

    return RowsNet
