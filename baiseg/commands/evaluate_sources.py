"""What ``baiseg evaluate`` feeds the one scheduler (``baiseg.inference.scheduler``): the dataset's samples as
``Item``s, and the two segmenters of its own: a results file (``--predictions``) and the weights' predictor keeping
the network's boundary map (``--save-maps``). The other segmenters are the package's (``baiseg.inference``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from baiseg.inference.protocol import Item, Job, Prepared
from baiseg.instances import Instances
from baiseg.segmenter import FULL_SIZE, ImagePreparer


class Items:
    """The dataset's first ``n`` samples in the evaluators' subset as scheduler ``Item``s, in input order: the
    image, the semantic map of ``semantic`` (``gt``: the dataset's, H x W ids; a folder: ``<image id>.png``;
    ``model``, ``none`` or ``file``: none) and the sample itself (its ground truth) in ``extras["sample"]``.

    Args:
        dataset: indexable samples with ``image_id``, ``image`` (uint8 H x W x 3), ``semantic`` and ground truth.
        semantic: the semantic source (above).
        n: how many samples from the start.
        evaluators: the ``SubsetEvaluators`` whose ``wanted`` picks the samples.
    """

    def __init__(self, dataset: Any, semantic: str, n: int, evaluators: Any) -> None:
        self.dataset, self.semantic, self.n, self.evaluators = dataset, semantic, n, evaluators

    def __iter__(self) -> Iterator[Item]:
        for i in range(self.n):
            s = self.dataset[i]
            if not self.evaluators.wanted(s):
                continue
            image_id = str(s["image_id"])
            yield Item(index=i, image_id=image_id, image=s["image"], semantic=self._semantic(s),
                       extras={"sample": s})  # fmt: skip

    def _semantic(self, s: dict[str, Any]) -> np.ndarray | None:
        if self.semantic == "gt":
            return np.asarray(s["semantic"])
        if self.semantic in ("model", "none", "file"):
            return None
        from baiseg.data.io import read_semantic_map

        return read_semantic_map(self.semantic, str(s["image_id"]), s["image"].shape[:2],
                                 len(self.dataset.class_names))  # fmt: skip


class ResultsSegmenter:
    """``--predictions``: a results file as a two-stage segmenter. ``forward`` hands each image its entries (as
    ``read_results`` grouped and checked them), ``finish`` decodes them (``results_to_instances``: masks at the
    image's size, category ids back to semantic ids 1..K) in the scheduler's pool.

    Args:
        grouped: the results entries by canonical image id (``baiseg.evaluation.results.id_key``).
        class_names: the dataset's K classes; category_ids: their K category ids.
    """

    def __init__(self, grouped: dict[str, list[dict[str, Any]]], class_names: list[str],
                 category_ids: list[int]) -> None:  # fmt: skip
        self.grouped, self.class_names, self.category_ids = grouped, list(class_names), list(category_ids)

    @property
    def preparer(self) -> ImagePreparer:
        """The image at its own size (its size is what ``finish`` needs); no semantic map."""
        return ImagePreparer(FULL_SIZE)

    def prepare(self, item: Item) -> Prepared:
        return self.preparer(item)

    def forward(self, batch: list[Prepared]) -> list[Job]:
        """Each image's results entries (none: an image without predictions) as a job."""
        from baiseg.evaluation.results import id_key

        return [Job(index=p.index, image_id=p.image_id, size=p.rgb.shape[:2],
                    data={"entries": self.grouped.get(id_key(p.image_id), []), "category_ids": self.category_ids})
                for p in batch]  # fmt: skip

    @staticmethod
    def finish(job: Job) -> Instances:
        """The job's entries decoded into instances at ``job.size``."""
        from baiseg.evaluation.results import results_to_instances

        h, w = job.size
        return results_to_instances(job.data["entries"], h, w, job.data["category_ids"], job.image_id)


class KeepNetworkBoundary:
    """``--save-maps``: the predictor, each job also carrying the network's boundary map (float h x w at the
    network's size, in [0, 1]) to the sink as ``extras["network_boundary"]``."""

    def __init__(self, predictor: Any) -> None:
        self.predictor, self.class_names, self.preparer = predictor, predictor.class_names, predictor.preparer
        self.architecture = predictor.architecture

    def prepare(self, item: Item) -> Prepared:
        return self.preparer(item)

    def forward(self, batch: list[Prepared]) -> list[Job]:
        jobs = self.predictor.forward(batch)
        for job in jobs:
            job.extras["network_boundary"] = job.data["boundary"]
        return jobs

    @staticmethod
    def finish(job: Job) -> Instances:
        from baiseg.predictor import Predictor

        return Predictor.finish(job)
