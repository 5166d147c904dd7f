"""MobileSAM + a semantic map as a two-stage segmenter: ``forward`` runs SAM (the device part: image embedding,
prompts on the semantic foreground, SAM's quality filters) in the main process, ``finish`` assembles its masks with
the semantic map (``baiseg.sam.assembly``: pure CPU, in the pool)."""

from __future__ import annotations

from typing import Any

from baiseg.inference.protocol import Job, Prepared
from baiseg.inference.semantic_input import SemanticInput
from baiseg.instances import Instances


class SAMSegmenter(SemanticInput):
    """MobileSAM prompted on each item's semantic foreground, its masks classed by that map.

    Args:
        model: MobileSAM (``baiseg.sam.load_mobilesam``).
        class_names: the K classes (semantic ids are checked against K).
        cfg: ``SAMConfig`` (None: its defaults).
    """

    def __init__(self, model: Any, class_names: list[str], cfg: Any = None) -> None:
        from baiseg.sam.config import SAMConfig

        self.model = model
        self.needs = "MobileSAM"
        self.class_names = list(class_names)
        self.cfg = cfg or SAMConfig()

    def forward(self, batch: list[Prepared]) -> list[Job]:
        """SAM's filtered proposals of each image (one image at a time: its embedding fills the device).

        Raises:
            BaisegError: an item without a semantic map.
        """
        from baiseg.sam.instances import filter_proposals, sam_proposals

        jobs = []
        for p in batch:
            sem = self.semantic_of(p)
            masks, ious = filter_proposals(sam_proposals(p.rgb, sem, model=self.model, cfg=self.cfg), self.cfg)
            jobs.append(Job(index=p.index, image_id=p.image_id, size=p.rgb.shape[:2],
                            data={"masks": masks, "ious": ious, "semantic": sem, "cfg": self.cfg}))  # fmt: skip
        return jobs

    @staticmethod
    def finish(job: Job) -> Instances:
        """The assembly of SAM's masks with the semantic map (``assemble_sam_instances``)."""
        from baiseg.sam.assembly import assemble_sam_instances

        d = job.data
        return assemble_sam_instances(d["masks"], d["ious"], d["semantic"], cfg=d["cfg"])
