"""``baiseg evaluate`` predicts through the one scheduler (``baiseg.inference.scheduler.run``): one run over the
chosen images, ``--save-maps`` writes the boundary map at the network's size and the semantic ids at the size the
MEP ran (a stand-in network replaces the weights)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from baiseg.cli import main


@pytest.fixture
def stand_in(monkeypatch, rows_net):
    pytest.importorskip("torch")
    import baiseg.commands.evaluate as cmd
    from baiseg.predictor import Predictor

    def load(weights, device, method, max_side=1024, mep_at="image"):
        return Predictor(rows_net(), ["disc", "box", "triangle"], method=method, max_side=max_side, mep_at=mep_at)

    monkeypatch.setattr(cmd, "_load_predictor", load)


def test_one_scheduler_run_over_the_chosen_images(tmp_path, capsys, monkeypatch, stand_in):
    import baiseg.inference.scheduler as scheduler

    calls = []
    real = scheduler.run
    monkeypatch.setattr(scheduler, "run", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    data = tmp_path / "syn.yaml"
    data.write_text("format: synthetic\nnum_images: 4\nsize: 64\nseed: 3\n")
    rc = main(["evaluate", "--data", str(data), "--weights", "w.safetensors", "--device", "cpu", "--limit", "3",
               "--json", "--out", str(tmp_path / "o")])  # fmt: skip
    assert rc == 0 and len(calls) == 1 and json.loads(capsys.readouterr().out)["images"] == 3
    rc = main(["evaluate", "--data", str(data), "--method", "dtws", "--json", "--out", str(tmp_path / "d")])
    assert rc == 0 and len(calls) == 2 and type(calls[1]).__name__ == "BaselineSegmenter"


def test_save_maps_boundary_at_the_network_size(tmp_path, capsys, stand_in):
    data = tmp_path / "syn.yaml"
    data.write_text("format: synthetic\nnum_images: 2\nsize: 64\nseed: 3\n")
    out = tmp_path / "o"
    rc = main(["evaluate", "--data", str(data), "--weights", "w.safetensors", "--device", "cpu", "--semantic", "gt",
               "--max-side", "32", "--save-maps", "--json", "--out", str(out)])  # fmt: skip
    assert rc == 0
    boundary = sorted((out / "boundary").glob("*.png"))
    semantic = sorted((out / "semantic").glob("*.png"))
    assert len(boundary) == 2 and [p.name for p in boundary] == [p.name for p in semantic]
    b = np.asarray(Image.open(boundary[0]))
    assert b.shape == (32, 32) and b[0].min() == 255 and b[1].max() == 0  # the network's map, shrunk image
    assert np.asarray(Image.open(semantic[0])).shape == (64, 64)  # the GT ids the MEP used, at the image's size


def test_predictions_through_the_same_scheduler_and_sink(tmp_path, capsys, monkeypatch):
    """--predictions: one scheduler run whose segmenter decodes the results file's entries in ``finish`` (an image
    without entries gives no instance), the same sink feeding the evaluators; no per-sample loop."""
    import baiseg.evaluation.run as evaluation_run
    import baiseg.inference.scheduler as scheduler

    calls, fed = [], []
    real_run, real_process = scheduler.run, evaluation_run.SubsetEvaluators.process
    monkeypatch.setattr(scheduler, "run", lambda *a, **k: calls.append(a[1]) or real_run(*a, **k))

    def process(self, sample, pred, subsets):
        fed.append((str(sample["image_id"]), len(pred)))
        return real_process(self, sample, pred, subsets)

    monkeypatch.setattr(evaluation_run.SubsetEvaluators, "process", process)
    data = tmp_path / "syn.yaml"
    data.write_text("format: synthetic\nnum_images: 3\nsize: 64\nseed: 3\n")
    assert main(["evaluate", "--data", str(data), "--method", "cc", "--json", "--out", str(tmp_path / "c")]) == 0
    results = tmp_path / "c" / "results.json"
    entries = json.loads(results.read_text())
    first = entries[0]["image_id"]
    results.write_text(json.dumps([e for e in entries if e["image_id"] != first]))  # one image without entries
    made = fed[:]
    fed.clear()
    rc = main(["evaluate", "--data", str(data), "--predictions", str(results), "--json", "--out", str(tmp_path / "p")])
    assert rc == 0 and len(calls) == 2 and type(calls[1]).__name__ == "ResultsSegmenter"
    assert [i for i, _ in fed] == [i for i, _ in made] and fed[0][1] == 0 and made[0][1] > 0
    assert fed[1:] == made[1:]
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["images"] == 3
