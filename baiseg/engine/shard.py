"""Sharding a list of inputs over the processes of a ``torchrun`` launch and merging their JSON outputs on rank 0.

Used by ``baiseg predict`` (and meant for any command that maps a function over many images)::

    info = shard_info(device)                       # rank / world from torchrun's environment (1 process otherwise)
    mine = shard_indices(len(items), info.rank, info.world_size)
    part = [work(items[i]) for i in mine]           # each rank its share
    parts = gather_json_parts(out_dir, "results", part, info)   # rank 0: [part of rank 0, part of rank 1, ...]
    if info.is_main:
        write_json_atomic(out_dir / "results.json", merge(parts))

The parts travel through files in ``out_dir`` (hidden ``.<name>.part<rank>.json``, removed after the merge), so any
backend works (gloo on CPU, nccl on GPU: only barriers go through the process group) and nothing large is sent over
it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from baiseg.engine.distributed import DistInfo, barrier, init_distributed
from baiseg.fileio import write_json_atomic


def shard_info(device: str = "cpu") -> DistInfo:
    """This process's rank and the world size: joins the process group under ``torchrun`` (``WORLD_SIZE`` > 1),
    else one process (rank 0 of 1) on ``device``."""
    from baiseg.devices import parse_device, resolve_device

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        device = parse_device(device, "--device")
        return init_distributed(device)
    import torch

    dev = torch.device(resolve_device(device, "--device"))
    return DistInfo(rank=0, world_size=1, local_rank=0, device=dev)


def shard_indices(n: int, rank: int, world: int) -> list[int]:
    """The indices of ``n`` items that ``rank`` of ``world`` processes handles: ``rank, rank + world, ...``.

    Strided rather than contiguous, so that ranks get a similar mix of image sizes. The shards of all ranks are
    disjoint and cover ``range(n)``.
    """
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"rank {rank} is not in 0..{world - 1}")
    return list(range(rank, max(n, 0), world))


def part_path(folder: str | os.PathLike, name: str, rank: int) -> Path:
    """Where rank ``rank`` leaves its part of output ``name``."""
    return Path(folder) / f".{name}.part{rank}.json"


def gather_json_parts(folder: str | os.PathLike, name: str, part: Any, info: DistInfo) -> list[Any] | None:
    """Collect one JSON-serialisable object from every rank on rank 0 (a collective: every rank must call it).

    Args:
        folder: a folder all ranks can read and write (the output folder).
        name: the output's name (parts are ``.<name>.part<rank>.json``).
        part: this rank's object.
        info: from ``shard_info`` / ``init_distributed``.

    Returns:
        On rank 0 the list of all ranks' objects in rank order (the part files are removed); on other ranks None.
        With one process: ``[part]`` without touching the disk.
    """
    if not info.distributed:
        return [part]
    write_json_atomic(part_path(folder, name, info.rank), part)
    barrier(info)
    out = None
    if info.is_main:
        out = []
        for r in range(info.world_size):
            p = part_path(folder, name, r)
            out.append(json.loads(p.read_text(encoding="utf-8")))
            p.unlink()
    barrier(info)
    return out
