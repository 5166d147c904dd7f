"""Resumable training checkpoints: model, optimiser, iteration, data-order seed and every RNG state.

A checkpoint is written with ``torch.save`` to a temporary file that is fsynced and renamed over the old one, so a
kill at any moment leaves either the previous complete checkpoint or the new one. It holds only tensors and plain
Python values, so it loads with ``torch.load(weights_only=True)``: nothing arbitrary is ever unpickled.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from baiseg.errors import WeightsError
from baiseg.fileio import atomic_write

FORMAT = "baiseg-checkpoint-1"


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch CPU (and CUDA) RNG states as tensors and plain values (weights_only-safe)."""
    version, mt, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": {"version": int(version), "state": torch.tensor(mt, dtype=torch.int64), "gauss": gauss},
        "numpy": {
            "name": str(name), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` captured."""
    py = state["python"]
    random.setstate((py["version"], tuple(int(x) for x in py["state"].tolist()), py["gauss"]))
    nps = state["numpy"]
    keys = nps["keys"].numpy().astype(np.uint32)
    np.random.set_state((nps["name"], keys, nps["pos"], nps["has_gauss"], nps["cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    path: str | os.PathLike,
    *,
    model_state: dict[str, torch.Tensor],
    optimizer_state: dict[str, Any],
    iteration: int,
    config_yaml: str,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Atomically write a full training checkpoint.

    Args:
        path: output file (``checkpoint.pt``).
        model_state: the bare model's state dict.
        optimizer_state: ``optimizer.state_dict()``.
        iteration: completed optimiser steps.
        config_yaml: the resolved config (``dump_yaml``) the run was started with.
        extra: further plain values (best metric, class list, ...).
    """
    payload = {
        "format": FORMAT,
        "iteration": int(iteration),
        "model": {k: v.detach().cpu() for k, v in model_state.items()},
        "optimizer": optimizer_state,
        "config": config_yaml,
        "rng": rng_state(),
        "extra": dict(extra or {}),
    }
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


def _load_failure(e: BaseException) -> str:
    """A short reason for a failed ``torch.load(weights_only=True)`` that never relays torch's advice to retry with
    ``weights_only=False`` (which would unpickle arbitrary code)."""
    text = str(e).strip()
    if "weights only" in text.lower() or "weights_only" in text or isinstance(e, __import__("pickle").UnpicklingError):
        return "it holds Python objects other than tensors and plain values, or is not a checkpoint; it is refused"
    first = text.splitlines()[0] if text else type(e).__name__
    return first[:200]


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint`` with ``torch.load(weights_only=True)``.

    Raises:
        WeightsError: the file is missing, truncated, not a checkpoint, or holds non-plain objects.
    """
    p = Path(path)
    if p.is_dir():
        raise WeightsError(f"checkpoint '{p}' is a folder, not a file: give its checkpoint.pt")
    if not p.is_file():
        raise WeightsError(f"checkpoint '{p}' does not exist")
    try:
        ckpt = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as e:
        raise WeightsError(f"checkpoint '{p}' cannot be read safely ({_load_failure(e)})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise WeightsError(f"'{p}' is not a baiseg training checkpoint")
    return ckpt
