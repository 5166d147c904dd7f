"""The one entrance to the MEP's C kernels (``native/``, built by setup.py at install as ``_native``).

Every stage module (labels.py, markers.py, flood.py, merge.py, scale.py) reads ``kernels.USE_C_KERNELS`` at call time
and calls ``kernels.native.<kernel>``; without the extension each falls back to NumPy / OpenCV code that gives the same
maps (docs/SPEED.md). The kernels: ``edt``, ``peak_seeds`` (markers), ``flood_levels``, ``flood_classes`` (flood),
``label_boxes`` (labels), ``border_sums``, ``open_border`` (merge), ``argmax_channels`` (scale).
"""

from __future__ import annotations

import os
from types import ModuleType

native: ModuleType | None
try:  # the C kernels; without them the NumPy/OpenCV code gives the same maps
    from baiseg.postprocess import _native as native
except ImportError:  # pragma: no cover - depends on the build
    native = None

#: Set to False to use the NumPy/OpenCV code everywhere (tests compare both; BAISEG_NO_C_KERNELS=1 does the same).
USE_C_KERNELS = native is not None and not os.environ.get("BAISEG_NO_C_KERNELS")
