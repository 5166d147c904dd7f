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
