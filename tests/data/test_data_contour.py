"""The semantic-contour label T on hand-drawn arrays."""

from __future__ import annotations

import numpy as np
import pytest

from baiseg.config import ConfigError
from baiseg.data.contour import semantic_contour


def two_squares(cls_a: int, cls_b: int) -> np.ndarray:
    sem = np.zeros((10, 12), dtype=np.uint8)
    sem[2:7, 1:6] = cls_a
    sem[2:7, 6:11] = cls_b  # touches the first square along x = 5 | 6
    return sem


def test_touching_squares_of_one_class_have_no_contour_between_them():
    t = semantic_contour(two_squares(1, 1))
    assert t[4, 5] == 0 and t[4, 6] == 0  # the shared edge
    assert t[4, 1] == 1 and t[4, 10] == 1  # outer edges against background
    assert t[1, 3] == 1 and t[2, 3] == 1  # both sides of the object/background change
    assert t[4, 3] == 0 and t[0, 0] == 0
    assert set(np.unique(t).tolist()) <= {0, 1}


def test_touching_squares_of_two_classes_have_a_contour():
    t = semantic_contour(two_squares(1, 2))
    assert t[4, 5] == 1 and t[4, 6] == 1
    assert t[4, 4] == 0 and t[4, 7] == 0


def test_four_versus_eight_neighbourhood():
    sem = np.zeros((5, 5), dtype=np.uint8)
    sem[2, 2] = 1
    t4 = semantic_contour(sem, neighbourhood=4)
    t8 = semantic_contour(sem, neighbourhood=8)
    assert t4.sum() == 5 and t4[1, 1] == 0 and t4[1, 2] == 1
    assert t8.sum() == 9 and t8[1, 1] == 1


def test_void_ignored_by_default_and_boundary_on_option():
    sem = np.ones((6, 6), dtype=np.uint8)
    sem[:, 3] = 255  # a void band through an object
    t = semantic_contour(sem, neighbourhood=4, void_fill_px=0)
    assert (t[:, 3] == 255).all()  # void itself: ignore
    assert (t[:, 2] == 255).all() and (t[:, 4] == 255).all()  # next to void: ignore
    assert (t[:, 0] == 0).all() and (t[:, 5] == 0).all()
    tb = semantic_contour(sem, neighbourhood=4, void_as_boundary=True, void_fill_px=0)
    assert (tb[:, 3] == 255).all()
    assert (tb[:, 2] == 1).all() and (tb[:, 4] == 1).all()
    assert (tb[:, 0] == 0).all()
    tf = semantic_contour(sem, neighbourhood=4)  # default: the thin band is filled (one class on both sides)
    assert (tf[:, 3] == 255).all() and (tf[:, [0, 1, 2, 4, 5]] == 0).all()


def test_image_border_is_not_a_contour_and_width_dilates():
    sem = np.zeros((9, 9), dtype=np.uint8)
    sem[:, 5:] = 2
    t1 = semantic_contour(sem, width_px=1)
    assert t1[:, 4:6].all() and t1.sum() == 18
    t2 = semantic_contour(sem, width_px=2)
    assert t2[:, 3:7].all() and t2.sum() == 36
    sem[0, 0] = 255
    t3 = semantic_contour(sem, width_px=2, void_fill_px=0)
    assert t3[0, 0] == 255 and t3[1, 1] == 255 and t3[0, 4] == 1


def test_bad_options_raise_config_error():
    with pytest.raises(ConfigError, match="neighbourhood"):
        semantic_contour(np.zeros((3, 3), np.uint8), neighbourhood=6)
    with pytest.raises(ConfigError, match="width_px"):
        semantic_contour(np.zeros((3, 3), np.uint8), width_px=0)
    with pytest.raises(ConfigError, match="void_fill_px"):
        semantic_contour(np.zeros((3, 3), np.uint8), void_fill_px=-1)
