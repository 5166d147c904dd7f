"""Training data stream: a seeded, resumable, rank-sharded sequence of augmented samples.

Position ``p`` of the global stream is sample ``perm_e[p % n]`` of epoch ``e = p // n`` where ``perm_e`` is a
permutation seeded by ``(seed, e)``, and its random augmentation is seeded by ``(seed, p)``. Rank ``r`` of ``W`` reads
positions ``start + r, start + r + W, ...``. A run resumed at iteration ``i`` starts at
``start = i * accum_steps * batch_size * W`` and therefore replays exactly the batches of an uninterrupted run,
whatever the number of loader workers.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from baiseg.config import Config


@contextmanager
def seeded_rng(seed: int) -> Iterator[None]:
    """Seed Python, NumPy and torch RNGs inside the block and restore the caller's states afterwards."""
    py, nps = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        random.seed(seed)
        np.random.seed(seed % (2**32))
        torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(py)
            np.random.set_state(nps)


def _mix(*values: int) -> int:
    """A stable 63-bit hash of integers (SplitMix64 steps)."""
    h = 0x9E3779B97F4A7C15
    for v in values:
        h = (h ^ (int(v) & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h & 0x7FFFFFFFFFFFFFFF


class SeededStream(Dataset):
    """Maps a global stream position to a transformed sample (see the module docstring).

    Args:
        dataset: sample dicts as in docs/ARCHITECTURE.md.
        transform: ``(sample dict, numpy Generator) -> training dict`` (``image``, ``semantic``, ``contour``).
        seed: run seed.
    """

    def __init__(self, dataset: Dataset, transform: Callable[[dict, np.random.Generator], dict], seed: int) -> None:
        self.dataset = dataset
        self.transform = transform
        self.seed = int(seed)
        self._perm: tuple[int, torch.Tensor] | None = None

    def index_of(self, position: int) -> int:
        n = len(self.dataset)
        epoch, k = divmod(int(position), n)
        if self._perm is None or self._perm[0] != epoch:
            g = torch.Generator().manual_seed(_mix(self.seed, epoch, 1))
            self._perm = (epoch, torch.randperm(n, generator=g))
        return int(self._perm[1][k])

    def __len__(self) -> int:  # the stream is endless; DataLoader only needs this for its repr
        return len(self.dataset)

    def __getitem__(self, position: int) -> dict[str, torch.Tensor]:
        sample = self.dataset[self.index_of(position)]
        seed = _mix(self.seed, int(position), 2)
        with seeded_rng(seed):
            return self.transform(sample, np.random.default_rng(seed))


class StreamSampler(Sampler[int]):
    """Endless positions ``start + rank + world_size * j`` for j = 0, 1, ..."""

    def __init__(self, start: int, rank: int = 0, world_size: int = 1) -> None:
        self.start, self.rank, self.world_size = int(start), int(rank), int(world_size)

    def __iter__(self) -> Iterator[int]:
        p = self.start + self.rank
        while True:
            yield p
            p += self.world_size


def train_loader(
    stream: SeededStream, cfg: Config, start_iteration: int, rank: int, world_size: int,
    collate_fn: Callable | None = None,
) -> DataLoader:
    """A DataLoader over the stream from the first sample of ``start_iteration`` (per-rank batches); ``collate_fn``
    None stacks equal-size samples (BAISeg crops), Mask R-CNN keeps lists."""
    per_iter = cfg.train.batch_size * cfg.train.accum_steps * world_size
    sampler = StreamSampler(start_iteration * per_iter, rank, world_size)
    workers = cfg.data.num_workers
    # own generator: creating the iterator must not consume the global RNG (a resumed run would diverge)
    gen = torch.Generator().manual_seed(_mix(stream.seed, start_iteration, 3))
    return DataLoader(stream, batch_size=cfg.train.batch_size, sampler=sampler, num_workers=workers,
                      pin_memory=torch.cuda.is_available(), generator=gen, drop_last=True,
                      collate_fn=collate_fn)
