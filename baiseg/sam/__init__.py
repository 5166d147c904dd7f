"""MobileSAM + semantic map: the class-agnostic-segmenter competitor of BAISeg (optional extra ``baiseg[sam]``).

    from baiseg.sam import load_mobilesam, sam_instances
    model = load_mobilesam(".cache/mobilesam/mobile_sam.pt")
    inst = sam_instances(image, semantic, model=model, score="area")

Weights: ``bash ../shared/tools/fetch_mobilesam.sh .cache/mobilesam``; ``segment-anything`` provides SAM's prompt
encoder, mask decoder and automatic mask generator (``pip install 'baiseg[sam]'``).
"""

from baiseg.sam.assembly import assemble_sam_instances
from baiseg.sam.config import SAMConfig
from baiseg.sam.instances import filter_proposals, foreground_points, sam_instances, sam_proposals
from baiseg.sam.model import build_mobilesam, load_mobilesam

__all__ = [
    "SAMConfig",
    "assemble_sam_instances",
    "build_mobilesam",
    "filter_proposals",
    "foreground_points",
    "load_mobilesam",
    "sam_instances",
    "sam_proposals",
]
