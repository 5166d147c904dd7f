"""MobileSAM + a semantic map as a two-stage segmenter: ``forward`` runs SAM (the device part: image embedding,
prompts on the semantic foreground, SAM's quality filters) in the main process, ``finish`` assembles its masks with
the semantic map (``baiseg.sam.assembly``: pure CPU, in the pool)."""

from __future__ import annotations

from typing import Any

import numpy as np

from baiseg.errors import BaisegError
from baiseg.inference.protocol import Item, Job, Prepared
from baiseg.instances import Instances
from baiseg.segmenter import ImagePreparer

FULL_SIZE = 1 << 30  # SAM runs on the image itself (it resizes for its encoder): no working image


class SAMSegmenter:
    """MobileSAM prompted on each item's semantic foreground, its masks classed by that map.

    Args:
        model: MobileSAM (``baiseg.sam.load_mobilesam``).
        class_names: the K classes (semantic ids are checked against K).
        cfg: ``SAMConfig`` (None: its defaults).
    """

    def __init__(self, model: Any, class_names: list[str], cfg: Any = None) -> None:
        from baiseg.sam.config import SAMConfig

        self.model = model
        self.class_names = list(class_names)
        self.cfg = cfg or SAMConfig()

    @property
    def preparer(self) -> ImagePreparer:
        """Decode and check (ids against K); no shrinking."""
        return ImagePreparer(FULL_SIZE, len(self.class_names))

    def prepare(self, item: Item) -> Prepared:
        return self.preparer(item)

    def forward(self, batch: list[Prepared]) -> list[Job]:
        """SAM's filtered proposals of each image (one image at a time: its embedding fills the device).

        Raises:
            BaisegError: an item without a semantic map.
        """
        from baiseg.sam.instances import filter_proposals, sam_proposals

        jobs = []
        for p in batch:
            if p.semantic is None:
                raise BaisegError(f"MobileSAM needs a semantic map for every image (none for '{p.image_id}')")
            sem = np.asarray(p.semantic)
            masks, ious = filter_proposals(sam_proposals(p.rgb, sem, model=self.model, cfg=self.cfg), self.cfg)
            jobs.append(Job(index=p.index, image_id=p.image_id, size=p.rgb.shape[:2],
                            data={"masks": masks, "ious": ious, "semantic": sem, "cfg": self.cfg}))  # fmt: skip
        return jobs

    @staticmethod
    def finish(job: Job) -> Instances:
        """The assembly of SAM's masks with the semantic map (``assemble_sam_instances``)."""
        from baiseg.sam.assembly import assemble_sam_instances

        d = job.data
        return Instances.from_dict(assemble_sam_instances(d["masks"], d["ious"], d["semantic"], cfg=d["cfg"]))
