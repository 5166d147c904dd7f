"""The baselines (``cc``, ``dtws``) as a two-stage segmenter: instances from a given semantic map, no network
(``forward`` only packs the map into a job). Used by ``baiseg pseudo`` without weights; a network's own semantic
map goes through ``Predictor`` (its ``method`` may be a baseline too)."""

from __future__ import annotations

from typing import Any

from baiseg.errors import BaisegError
from baiseg.inference.protocol import Job, Prepared
from baiseg.inference.semantic_input import SemanticInput
from baiseg.instances import Instances

BASELINES = ("cc", "dtws")


class BaselineSegmenter(SemanticInput):
    """``cc`` or ``dtws`` on each item's semantic map (0 background, 1..K, 255 void) at the image's size.

    Args:
        method: ``cc`` or ``dtws``.
        class_names: the K classes (semantic ids are checked against K).
        mep: the ``MEPConfig`` holding the baselines' parameters (``cc_min_area_px``, ``dtws_*``, ``watershed_on``).
    """

    def __init__(self, method: str, class_names: list[str], mep: Any = None) -> None:
        from baiseg.config import MEPConfig

        if method not in BASELINES:
            raise BaisegError(f"baseline method '{method}': choose one of {', '.join(BASELINES)}")
        self.method = method
        self.needs = f"--method {method}"
        self.class_names = list(class_names)
        self.mep = mep or MEPConfig()

    def forward(self, batch: list[Prepared]) -> list[Job]:
        """The identity: each item's semantic map (and image, for ``watershed_on=image``) as a job.

        Raises:
            BaisegError: an item without a semantic map.
        """
        jobs = []
        for p in batch:
            image = p.rgb if self.mep.watershed_on == "image" else None
            jobs.append(Job(index=p.index, image_id=p.image_id, size=p.rgb.shape[:2],
                            data={"method": self.method, "semantic": self.semantic_of(p),
                                  "image": image, "mep": self.mep}))  # fmt: skip
        return jobs

    @staticmethod
    def finish(job: Job) -> Instances:
        """``instances_from_semantic`` of the job's method on its semantic map."""
        from baiseg.postprocess.methods import instances_from_semantic

        d = job.data
        return instances_from_semantic(d["method"], d["semantic"], image=d["image"], cfg=d["mep"])
