"""Learning-rate schedule: linear warm-up, then polynomial decay (paper §4.2, "poly" with power 0.9).

The rate is a pure function of the iteration, so a resumed run follows exactly the same schedule without storing
any scheduler state beyond the iteration counter.
"""

from __future__ import annotations

import torch


def poly_lr(iteration: int, base_lr: float, total_iters: int, power: float = 0.9, warmup_iters: int = 0) -> float:
    """Learning rate used for the optimiser step of ``iteration`` (0-based).

    Args:
        iteration: completed optimiser steps before this one, in [0, total_iters).
        base_lr: peak learning rate (> 0).
        total_iters: length of the schedule; the rate reaches 0 at ``total_iters``.
        power: poly exponent.
        warmup_iters: the first ``warmup_iters`` steps ramp linearly from ``base_lr / warmup_iters`` to ``base_lr``
            (the poly factor applies on top).

    Returns:
        The learning rate, in [0, base_lr].
    """
    if total_iters <= 0:
        raise ValueError(f"total_iters must be positive, got {total_iters}")
    frac = min(max(iteration, 0), total_iters) / total_iters
    lr = base_lr * (1.0 - frac) ** power
    if warmup_iters > 0 and iteration < warmup_iters:
        lr *= (iteration + 1) / warmup_iters
    return lr


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Write ``lr`` into every parameter group (groups may carry an ``lr_mult`` factor)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_mult", 1.0)
