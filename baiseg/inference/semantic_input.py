"""What the segmenters that take a given semantic map share (``BaselineSegmenter``: cc, dtws; ``SAMSegmenter``):
the image at its own size (no working image) with its semantic map checked against K, and a one-line refusal of an
item that has none."""

from __future__ import annotations

import numpy as np

from baiseg.errors import BaisegError
from baiseg.inference.protocol import Item, Prepared
from baiseg.segmenter import FULL_SIZE, ImagePreparer


class SemanticInput:
    """Mixin: ``preparer`` / ``prepare`` at the image's size and ``semantic_of``; subclasses set ``class_names``
    (the K classes) and ``needs`` (how an error names the segmenter, e.g. ``"--method cc"``)."""

    class_names: list[str]
    needs: str

    @property
    def preparer(self) -> ImagePreparer:
        """Decode and check (ids against K); no shrinking."""
        return ImagePreparer(FULL_SIZE, len(self.class_names))

    def prepare(self, item: Item) -> Prepared:
        return self.preparer(item)

    def semantic_of(self, p: Prepared) -> np.ndarray:
        """The item's semantic map (uint8 H x W ids).

        Raises:
            BaisegError: the item has none.
        """
        if p.semantic is None:
            raise BaisegError(f"{self.needs} needs a semantic map for every image (none for '{p.image_id}')")
        return np.asarray(p.semantic, np.uint8)
