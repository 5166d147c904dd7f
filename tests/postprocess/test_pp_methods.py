"""The method dispatcher (methods.py) and its package-level names."""

from __future__ import annotations

import numpy as np
import pytest

import baiseg.postprocess as pp
import baiseg.postprocess.methods as methods
from baiseg.errors import BaisegError


def test_package_names_are_the_dispatcher_itself():
    import baiseg.postprocess.baselines as baselines

    assert methods.instances_from_semantic is pp.instances_from_semantic
    assert methods.METHODS is pp.METHODS == ("baiseg", "cc", "dtws")
    assert not hasattr(baselines, "instances_from_semantic")  # no re-export shim (issue 22)


def test_dispatch():
    sem = np.zeros((12, 12), np.uint8)
    sem[1:5, 1:5] = 1
    sem[7:11, 7:11] = 1
    for method in ("cc", "dtws"):
        assert len(methods.instances_from_semantic(method, sem).masks) == 2
    with pytest.raises(BaisegError, match="boundary map"):
        methods.instances_from_semantic("baiseg", sem)
    with pytest.raises(BaisegError, match="unknown method"):
        methods.instances_from_semantic("nope", sem)
