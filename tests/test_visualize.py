"""Pictures: overlays colour exactly the instance pixels, sheets tile panels."""

from __future__ import annotations

import numpy as np

from baiseg.instances import Instances
from baiseg.visualize import colourise, draw_ground_truth, draw_instances, heatmap, sheet


def test_draw_instances_touches_only_instance_pixels():
    img = np.full((40, 50, 3), 100, np.uint8)
    masks = np.zeros((2, 40, 50), bool)
    masks[0, 5:15, 5:15] = True
    masks[1, 20:35, 25:45] = True
    inst = Instances(masks, np.array([1, 2]), np.array([0.9, 0.5], np.float32))
    out = draw_instances(img, inst, ["a", "b"], show_labels=False)
    changed = (out != img).any(-1)
    assert changed[masks.any(0)].all()
    assert not changed[~masks.any(0)].any()
    assert (img == 100).all(), "input must not be modified"
    labelled = draw_instances(img, inst, ["a", "b"])
    assert labelled.shape == img.shape and labelled.dtype == np.uint8
    assert (draw_instances(img, Instances.empty(40, 50)) == img).all() and (draw_instances(img, None) == img).all()


def test_ground_truth_draws_crowd_regions_grey_and_no_score():
    img = np.full((40, 50, 3), 100, np.uint8)
    masks = np.zeros((2, 40, 50), bool)
    masks[0, 5:15, 5:15] = True
    masks[1, 20:35, 25:45] = True
    gt = {"masks": masks, "classes": np.array([1, 2]), "crowd": np.array([False, True])}
    out = draw_ground_truth(img, gt, ["a", "b"], show_labels=False)
    same = draw_instances(img, Instances(masks[:1], [1], [1.0]), show_labels=False)
    assert (out[masks[0]] == same[masks[0]]).all()  # a real GT instance: as a prediction is drawn
    assert (out[27, 35] == 115).all() and (out[20, 25] == 128).all()  # the crowd region: grey (0.45 x 100 + 0.55 x 128)
    assert (draw_ground_truth(img, None) == img).all()


def test_colourise_heatmap_and_sheet_shapes():
    sem = np.array([[0, 1], [2, 255]], np.uint8)
    rgb = colourise(sem)
    assert rgb.shape == (2, 2, 3) and (rgb[0, 0] == 0).all() and not (rgb[0, 1] == rgb[1, 0]).all()
    hm = heatmap(np.linspace(0, 1, 12).reshape(3, 4))
    assert hm.shape == (3, 4, 3) and hm.dtype == np.uint8
    s = sheet([np.zeros((10, 20, 3), np.uint8)] * 3, ["a", "b", "c"], columns=2)
    assert s.shape == (20, 40, 3)


def test_comparison_sheet_one_row_per_image():
    from baiseg.visualize import comparison_sheet

    img = np.zeros((400, 600, 3), np.uint8)
    masks = np.zeros((1, 400, 600), bool)
    masks[0, 100:200, 100:300] = True
    gt = {"masks": masks, "classes": np.array([1]), "crowd": np.array([False])}
    pred = Instances(masks, np.array([1]), np.array([0.8]))
    row = comparison_sheet({"image": img, "instances": gt}, np.zeros((400, 600)), {"cc": pred, "BAISeg": pred},
                           ["thing"], max_side=300)
    assert row.shape == (200, 300 * 5, 3) and row.dtype == np.uint8


def _draw_on_whole_image(image, inst, alpha=0.55):
    """The overlay colours computed on the whole image, mask by mask (no labels): what the box crops must give."""
    import cv2

    from baiseg.visualize import instance_colour

    out = image.astype(np.float32)
    for k, m in enumerate(inst.masks):
        if not m.any():
            continue
        colour = instance_colour(k)
        out[m] = (1 - alpha) * out[m] + alpha * colour
        out[m & ~cv2.erode(m.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)] = colour
    return out.clip(0, 255).astype(np.uint8)


def test_draw_instances_in_mask_boxes_equals_the_whole_image_computation():
    rng = np.random.default_rng(3)
    for _ in range(20):
        h, w = rng.integers(4, 120, 2)
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        n = int(rng.integers(0, 5))
        masks = np.zeros((n, h, w), bool)
        for i in range(n):  # boxes touching the image border included; some masks empty
            y0, x0 = rng.integers(0, h), rng.integers(0, w)
            masks[i, y0:y0 + rng.integers(0, h), x0:x0 + rng.integers(0, w)] = True
            masks[i] &= rng.random((h, w)) > 0.1
        inst = Instances(masks, np.ones(n, int), np.ones(n))
        assert (draw_instances(img, inst, show_labels=False) == _draw_on_whole_image(img, inst)).all()
