"""``SAMConfig``: the parameters of the MobileSAM + semantic-map competitor (proposals, filters, assembly, score)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from baiseg.errors import BaisegError

SCORE_RULES = ("sam", "area")
PAINT_ORDERS = ("area", "score")


@dataclass(frozen=True)
class SAMConfig:
    """Parameters of ``sam_instances``.

    Attributes:
        points_per_side: the SAM point grid is points_per_side x points_per_side over the image; only the points on
            semantic foreground (ids 1..254) are prompted.
        points_per_batch: prompts decoded at once (memory: batch x 3 x 1024 x 1024 float32 logits).
        pred_iou_thresh: SAM masks with a lower predicted IoU are dropped, in [0, 1].
        stability_score_thresh: SAM masks with a lower stability score (IoU of the masks thresholded at
            +-``stability_score_offset`` logits) are dropped, in [0, 1]. 0.85 was chosen on pennfudan_train (first
            40 images, GT semantics: COCO AP 84.1 / 83.3 / 66.0 at 0.85 / 0.9 / 0.95 with score "area"); SAM's
            ViT-H default 0.95 drops most whole-person MobileSAM masks and keeps their parts.
        stability_score_offset: logit offset of the stability score.
        box_nms_thresh: box IoU above which the SAM mask of lower predicted IoU is suppressed.
        min_inside_frac: a SAM mask is kept only if at least this share of its pixels carries its majority class
            (masks mostly on background or void are not objects of the semantic map).
        min_area_px: instances (SAM pieces and leftover components) smaller than this are dropped.
        min_keep_frac: after overlap resolution a SAM piece must keep this share of its pixels, else it is dropped.
        paint: who claims contested pixels first: ``"area"`` (larger piece first: parts are absorbed by wholes) or
            ``"score"`` (higher score first; on pennfudan_train it splits people into parts: AP 13 vs 81 with
            score "sam").
        score: ranking rule: ``"sam"`` (SAM predicted IoU x mean semantic probability of the class) or ``"area"``
            (area / (area + area_scale_px), monotone in the area). With ground-truth semantics (no probability)
            ``"area"`` ranked better on pennfudan_train (COCO AP 84.1 vs 80.6).
        leftover_iou: stand-in for the SAM IoU of a connected component of uncovered foreground (score ``"sam"``;
            times the mean class probability and area / (area + area_scale_px)).
        area_scale_px: the area scale of the size terms above.
    """

    points_per_side: int = 16
    points_per_batch: int = 32
    pred_iou_thresh: float = 0.88
    stability_score_thresh: float = 0.85
    stability_score_offset: float = 1.0
    box_nms_thresh: float = 0.7
    min_inside_frac: float = 0.5
    min_area_px: int = 64
    min_keep_frac: float = 0.5
    paint: str = "area"
    score: str = "sam"
    leftover_iou: float = 0.5
    area_scale_px: float = 4096.0

    def __post_init__(self) -> None:
        if self.score not in SCORE_RULES:
            raise BaisegError(f"SAMConfig.score {self.score!r} is unknown: choose one of {', '.join(SCORE_RULES)}")
        if self.paint not in PAINT_ORDERS:
            raise BaisegError(f"SAMConfig.paint {self.paint!r} is unknown: choose one of {', '.join(PAINT_ORDERS)}")
        if self.points_per_side < 1 or self.points_per_batch < 1:
            raise BaisegError("SAMConfig.points_per_side and points_per_batch must be >= 1")

    def with_overrides(self, **overrides: Any) -> SAMConfig:
        """A copy with some fields replaced; unknown names raise a BaisegError that lists the valid ones."""
        names = {f.name for f in fields(self)}
        bad = sorted(set(overrides) - names)
        if bad:
            raise BaisegError(f"unknown SAMConfig option(s) {bad}: valid are {sorted(names)}")
        return replace(self, **overrides)


#: The settings ``evaluate`` / ``pseudo --method sam`` start from: ``SAMConfig()`` ranked by area, which ranked better
#: than ``"sam"`` with ground-truth semantics on pennfudan_train (docs/GENERALISATION.md); ``sam.KEY=VALUE`` changes it.
CLI_DEFAULT = SAMConfig(score="area")


def split_sam_overrides(overrides: list[str], method: str = "sam",
                        base: SAMConfig = CLI_DEFAULT) -> tuple[list[str], SAMConfig]:
    """Take the ``sam.KEY=VALUE`` items out of command-line overrides: ``(the other items, base with them applied)``.

    Values are parsed as YAML scalars and coerced to the field's type (``sam.points_per_side=32``,
    ``sam.score=area``); an unknown key, a value of the wrong type, or ``sam.*`` items with a ``method`` other than
    ``"sam"`` (they would be ignored) are a one-line BaisegError.
    """
    from baiseg.config import parse_overrides
    from baiseg.config_rules import coerce

    mine = [o for o in overrides if o.strip().startswith("sam.")]
    rest = [o for o in overrides if o not in mine]
    if mine and method != "sam":
        raise BaisegError("sam.KEY=VALUE overrides set MobileSAM's settings: use them with --method sam")
    changes = parse_overrides(mine).get("sam", {}) if mine else {}
    types = {f.name: f.type for f in fields(SAMConfig)}
    bad = sorted(k for k in changes if k not in types or isinstance(changes[k], dict))
    if bad:
        raise BaisegError(f"unknown MobileSAM option(s) {', '.join('sam.' + k for k in bad)}: valid are "
                          f"{', '.join('sam.' + k for k in sorted(types))}")
    typed = {k: coerce(v, {"int": int, "float": float, "str": str}[str(types[k])], f"sam.{k}", BaisegError)
             for k, v in changes.items()}
    return rest, base.with_overrides(**typed)
