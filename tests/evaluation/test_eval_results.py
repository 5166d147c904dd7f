"""Instances <-> COCO results JSON round trip, and the user errors of a results file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from baiseg.evaluation import (
    EvaluationError,
    VOCInstanceEvaluator,
    read_results,
    results_to_instances,
    write_results,
)
from baiseg.evaluation.results import check_result_ids, id_key
from baiseg.instances import Instances, coco_results


def test_round_trip_through_a_file(tmp_path, ev):
    rng = np.random.default_rng(0)
    masks = rng.random((3, ev.H, ev.W)) > 0.5
    inst = ev.pred(masks, [1, 2, 2], [0.9, 0.5, 0.25])
    path = tmp_path / "sub" / "results.json"
    write_results(path, coco_results(inst, "000000000042", category_ids=[11, 22]))
    raw = json.loads(path.read_text())
    assert raw[0]["image_id"] == 42 and raw[1]["category_id"] == 22
    grouped = read_results(path)
    assert list(grouped) == ["42"] and id_key("000000000042") == "42"
    back = results_to_instances(grouped["42"], ev.H, ev.W, category_ids=[11, 22])
    assert isinstance(back, Instances)
    np.testing.assert_array_equal(back.masks, masks)
    np.testing.assert_array_equal(back.classes, [1, 2, 2])
    np.testing.assert_allclose(back.scores, [0.9, 0.5, 0.25])
    assert not list(tmp_path.glob("sub/*.tmp"))


def test_evaluation_is_the_same_after_the_round_trip(tmp_path, ev):
    s = ev.sample([ev.A, ev.B], [1, 1], image_id="pic")
    inst = ev.pred([ev.FAR, ev.A, ev.B], [1, 1, 1], [0.9, 0.8, 0.7])
    write_results(tmp_path / "r.json", coco_results(inst, "pic"))
    grouped = read_results(tmp_path / "r.json")
    e = VOCInstanceEvaluator(num_classes=1)
    e.process(s, results_to_instances(grouped["pic"], ev.H, ev.W))
    assert e.evaluate()["mAP50"] == pytest.approx(2 / 3)


def test_empty_instances_round_trip(ev):
    inst = ev.pred(np.zeros((0, ev.H, ev.W)), [], [])
    assert coco_results(inst, "x") == []
    back = results_to_instances([], ev.H, ev.W)
    assert isinstance(back, Instances) and back.masks.shape == (0, ev.H, ev.W)


def test_results_file_errors(tmp_path, ev):
    with pytest.raises(EvaluationError, match="does not exist"):
        read_results(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(EvaluationError, match="not valid JSON"):
        read_results(tmp_path / "bad.json")
    (tmp_path / "obj.json").write_text('{"a": 1}')
    with pytest.raises(EvaluationError, match="JSON list"):
        read_results(tmp_path / "obj.json")
    (tmp_path / "lack.json").write_text('[{"image_id": 1}]')
    with pytest.raises(EvaluationError, match="lacks"):
        read_results(tmp_path / "lack.json")
    entries = coco_results(ev.pred([ev.A], [1], [0.5]), "7", category_ids=[3])
    with pytest.raises(EvaluationError, match="not in the dataset"):
        check_result_ids("r.json", {"7": entries}, ["000001", "000002"])
    check_result_ids("r.json", {"7": entries}, ["0007"])
    with pytest.raises(EvaluationError, match="original image resolution"):
        results_to_instances(entries, ev.H + 1, ev.W, category_ids=[3])
    with pytest.raises(EvaluationError, match="category_id 3"):
        results_to_instances(entries, ev.H, ev.W, category_ids=[1, 2])
