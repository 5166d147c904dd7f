"""Overlays that read in dense scenes (baiseg.visualize.draw_instances): tags only where they fit and never on top of
each other, a legend of the classes; without labels the pixels are exactly the blend and the outlines."""

from __future__ import annotations

import numpy as np

from baiseg.data.io import voc_palette
from baiseg.instances import Instances
from baiseg.visualize import draw_instances

IMG = np.full((200, 300, 3), 90, np.uint8)


def _inst(boxes: list[tuple[int, int, int, int]], classes: list[int]) -> Instances:
    masks = np.zeros((len(boxes), *IMG.shape[:2]), bool)
    for m, (y0, x0, y1, x1) in zip(masks, boxes):
        m[y0:y1, x0:x1] = True
    return Instances(masks, np.array(classes), np.linspace(0.9, 0.5, len(boxes)))


def _has_colour(region: np.ndarray, rgb: np.ndarray) -> bool:
    return bool((region.reshape(-1, 3) == rgb).all(1).any())


def test_tags_only_where_they_fit() -> None:
    inst = _inst([(10, 10, 110, 150), (150, 200, 158, 208)], [1, 2])  # a large box, an 8 x 8 one
    plain = draw_instances(IMG, inst, ["person", "car"], show_labels=False)
    out = draw_instances(IMG, inst, ["person", "car"], legend=False)
    person, car = voc_palette()[1], voc_palette()[2]
    assert _has_colour(out[10:40, 10:150], person)  # the large one's tag, in its class colour
    assert (out[145:165, 195:215] == plain[145:165, 195:215]).all()  # the small one: no tag anywhere near it
    assert not _has_colour(out, car)


def test_tags_do_not_cover_each_other() -> None:
    inst = _inst([(10, 10, 110, 150), (10, 10, 110, 150)], [1, 2])  # same box: the second tag would cover the first
    out = draw_instances(IMG, inst, ["person", "car"], legend=False)
    assert _has_colour(out, voc_palette()[1]) and not _has_colour(out, voc_palette()[2])


def test_legend_lists_each_class() -> None:
    inst = _inst([(10, 10, 110, 150), (10, 160, 110, 290)], [1, 2])
    out = draw_instances(IMG, inst, ["person", "car"])
    corner = out[150:, :100]
    assert _has_colour(corner, voc_palette()[1]) and _has_colour(corner, voc_palette()[2])
    no_legend = draw_instances(IMG, inst, ["person", "car"], legend=False)
    assert (no_legend[150:, :100] == IMG[150:, :100]).all()
