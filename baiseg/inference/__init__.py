"""One inference core: the two-stage segmenter protocol (``protocol.py``) and the one scheduler (``scheduler.py``)
that runs any segmenter over many images (docs/ARCHITECTURE.md "The inference core")."""
