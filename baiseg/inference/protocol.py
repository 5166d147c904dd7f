"""The protocol every segmenter implements, in three stages (docs/ARCHITECTURE.md "The inference core"):

1. ``prepare(item) -> Prepared``: decode the image, check an external semantic map (size, ids against K), shrink
   the image to ``max_side``. Pure CPU; the scheduler runs it in reader processes, so a segmenter exposes it as a
   picklable ``preparer`` (no network inside).
2. ``forward(batch: list[Prepared]) -> list[Job]``: the device part (the network), batched, in the main process;
   the identity (packing) for segmenters without a network (cc, dtws).
3. ``finish(job) -> Instances``: pure CPU (the MEP, the baselines, an assembly, the resize back), a static method
   so that a process pool can run it on the pickled job; what the sink should see besides the instances (e.g. the
   boundary map the MEP used) it leaves in ``job.extras``.

``Predictor.predict_instances`` is ``finish(forward([prepare(image)])[0])``; ``baiseg.inference.scheduler.run``
chains the three stages over many images.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from baiseg.instances import Instances


@dataclass
class Item:
    """One input to segment.

    Attributes:
        index: position in the input order (results reach the sink in this order).
        image_id: the image's id (output file names, results entries, error messages).
        image: uint8 H x W x 3 RGB array, or a path (decoded by ``prepare``); None when ``error`` is set.
        semantic: optional external semantic map, H x W ids (0 background, 1..K, 255 void).
        error: why the input could not be read (the scheduler skips it: ``on_skip``), or None.
        extras: anything the caller wants back in the sink (e.g. the input's path); must be picklable.
    """

    index: int
    image_id: str
    image: Any = None
    semantic: np.ndarray | None = None
    error: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class Prepared:
    """An item after ``prepare``.

    Attributes:
        index, image_id, extras: the item's.
        rgb: uint8 H x W x 3, the image at its own size.
        work: uint8 h x w x 3, the image the network sees (``rgb`` shrunk so that max(h, w) <= ``max_side``).
        semantic: the checked external semantic map (uint8 H x W) or None.
        error: the item's read error (nothing else is set then).
    """

    index: int
    image_id: str
    rgb: np.ndarray | None = None
    work: np.ndarray | None = None
    semantic: np.ndarray | None = None
    error: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class Job:
    """What ``finish`` needs for one image (picklable: it travels to a pool process).

    Attributes:
        index, image_id: the item's.
        size: the image's ``(H, W)``: ``finish`` gives instances at this size.
        data: the segmenter's own payload (maps at the working size, MEP parameters, detections, ...).
        extras: handed to the sink with the instances; ``finish`` may add to it (e.g. ``boundary``: the boundary
            map the MEP used, float32 H x W in [0, 1]; ``semantic``: the uint8 map it used).
    """

    index: int
    image_id: str
    size: tuple[int, int]
    data: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class TwoStageSegmenter(Protocol):
    """What ``scheduler.run`` and the single-image facade need of a segmenter."""

    class_names: list[str]

    @property
    def preparer(self) -> Any:
        """A picklable callable ``Item -> Prepared`` (no network in it): ``prepare`` in reader processes."""

    def prepare(self, item: Item) -> Prepared:
        """Decode and check one item (``preparer(item)``)."""

    def forward(self, batch: list[Prepared]) -> list[Job]:
        """The device stage for a batch of prepared items (one job each, same order)."""

    @staticmethod
    def finish(job: Job) -> Instances:
        """The CPU stage: instances at ``job.size``."""


def finish_job(finish: Any, job: Job) -> tuple[Instances, dict[str, Any]]:
    """``(finish(job), job.extras)``: the unit of work the scheduler sends to its pool (module level: picklable)."""
    return finish(job), job.extras
