"""Scores of a segmenter on dataset samples held in memory: one scheduler run whose ordered sink feeds
``evaluation.run.SubsetEvaluators`` (the sweep's rows and the benches' tables; ``baiseg evaluate`` has its own
items and sink, which also save maps and refine)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from baiseg.evaluation.run import SubsetEvaluators
from baiseg.inference import scheduler
from baiseg.inference.protocol import Item


def score_samples(samples: Sequence[dict[str, Any]], segmenter: Any, semantic: str, evaluators: SubsetEvaluators,
                  touching: Sequence[bool] | None = None) -> dict[str, dict[str, Any]]:  # fmt: skip
    """``evaluators.summary()`` after ``segmenter`` ran on every sample that one of their subsets wants.

    Args:
        samples: dataset samples (``image_id``, ``image`` uint8 H x W x 3, ``semantic`` ids H x W, ground truth).
        segmenter: a two-stage segmenter (``baiseg.inference.protocol``).
        semantic: ``gt`` (each sample's semantic map goes with its image) or ``model`` (none: the network's).
        evaluators: the ``SubsetEvaluators`` to feed (their subsets pick the samples).
        touching: precomputed "has touching instances" flags per sample (computed when needed otherwise).
    """
    items = (Item(index=i, image_id=str(s["image_id"]), image=s["image"], extras={"sample": s, "wanted": wanted},
                  semantic=np.asarray(s["semantic"]) if semantic == "gt" else None)
             for i, s in enumerate(samples)
             if (wanted := evaluators.wanted(s, None if touching is None else touching[i])))  # fmt: skip
    scheduler.run(items, segmenter,
                  lambda p, found, extras: evaluators.process(p.extras["sample"], found, p.extras["wanted"]))
    return evaluators.summary()
