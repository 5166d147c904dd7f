"""Post-processing: the Mask Extraction Pipeline, instance assembly and the ``cc`` / ``dtws`` baselines."""

from baiseg.postprocess.assembly import assemble_instances
from baiseg.postprocess.mep import extract_masks
from baiseg.postprocess.methods import METHODS, instances_from_semantic
from baiseg.postprocess.nms import boundary_nms

__all__ = [
    "METHODS",
    "assemble_instances",
    "boundary_nms",
    "extract_masks",
    "instances_from_semantic",
]
