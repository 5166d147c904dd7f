"""A stand-in two-stage segmenter for the scheduler tests: no network; one instance per image (the whole image),
its score the item's index / 1000; ``finish`` sleeps longer for earlier items so that a pool finishes them out of
order; ``fail=(stage, index)`` raises in that stage for that item."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from baiseg.errors import BaisegError
from baiseg.inference.protocol import Item, Job, Prepared
from baiseg.instances import Instances


@dataclass
class StandinPrepare:
    fail_at: int | None = None

    def __call__(self, item: Item) -> Prepared:
        if self.fail_at == item.index:
            raise BaisegError("cannot prepare this one")
        rgb = np.asarray(item.image, np.uint8)
        return Prepared(index=item.index, image_id=item.image_id, rgb=rgb, work=rgb, extras=dict(item.extras))


class Standin:
    class_names = ["thing"]

    def __init__(self, fail: tuple[str, int] | None = None, delay_s: float = 0.0) -> None:
        self.fail = fail or ("", -1)
        self.delay_s = delay_s
        self.batches: list[list[int]] = []

    @property
    def preparer(self) -> StandinPrepare:
        return StandinPrepare(self.fail[1] if self.fail[0] == "prepare" else None)

    def prepare(self, item: Item) -> Prepared:
        return self.preparer(item)

    def forward(self, batch: list[Prepared]) -> list[Job]:
        self.batches.append([p.index for p in batch])
        if self.fail[0] == "forward" and any(p.index == self.fail[1] for p in batch):
            raise BaisegError("the network failed")
        return [Job(index=p.index, image_id=p.image_id, size=p.rgb.shape[:2],
                    data={"fail": self.fail[0] == "finish" and p.index == self.fail[1],
                          "sleep": max(0.0, self.delay_s * (5 - p.index))}, extras={"from_forward": p.index})
                for p in batch]  # fmt: skip

    @staticmethod
    def finish(job: Job) -> Instances:
        time.sleep(job.data["sleep"])
        if job.data["fail"]:
            raise BaisegError("the MEP failed")
        h, w = job.size
        job.extras["finished"] = True
        return Instances(np.ones((1, h, w), bool), np.array([1]), np.array([job.index / 1000], np.float32))


def items(n: int, sizes: list[int] | None = None) -> list[Item]:
    """``n`` items ``im000``, ... of gray images (side ``sizes[i]``, default 8)."""
    sizes = sizes or [8] * n
    return [Item(index=i, image_id=f"im{i:03d}", image=np.full((s, s, 3), i, np.uint8), extras={"k": i})
            for i, s in enumerate(sizes)]  # fmt: skip


def write_after(prepared: Prepared, job: Job, inst: Instances) -> dict:
    """An ``after`` hook: what a writer would return (runs in the pool)."""
    return {"n": len(inst), "mean": float(prepared.rgb.mean())}
