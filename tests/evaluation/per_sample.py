"""The per-sample reference loop of the tests: the evaluators fed one sample at a time, without the scheduler
(``baiseg.evaluation.run.SubsetEvaluators``), to check that a scheduler run scores exactly as it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from baiseg.evaluation.run import SubsetEvaluators


def per_sample_scores(samples: Sequence[dict[str, Any]], predict: Callable[[dict[str, Any]], Any], *,
                      class_names: list[str], category_ids: list[int], subsets: Sequence[str] = ("all",),
                      coco: bool = True,
                      touching: Sequence[bool] | None = None) -> dict[str, dict[str, Any]]:  # fmt: skip
    """``SubsetEvaluators.summary()`` of ``predict`` (sample -> ``Instances``) over ``samples`` in order
    (``touching``: precomputed flags per sample)."""
    ev = SubsetEvaluators(class_names, category_ids, subsets, coco=coco)
    for i, sample in enumerate(samples):
        wanted = ev.wanted(sample, None if touching is None else bool(touching[i]))
        if wanted:
            ev.process(sample, predict(sample), wanted)
    return ev.summary()
