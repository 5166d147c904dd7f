"""``baiseg evaluate --workers N``: ``finish`` (the MEP, a baseline, the decoding of ``--predictions``) in a pool
of N processes of the one scheduler gives the same metrics and results as one thread (0) or one process (1); the
option is bounded as ``baiseg predict``'s."""

from __future__ import annotations

import json

import pytest

from baiseg.cli import main
from baiseg.config_rules import MAX_THREADS


@pytest.fixture
def tiny(tmp_path):
    p = tmp_path / "syn.yaml"
    p.write_text("format: synthetic\nnum_images: 5\nsize: 64\nseed: 3\n")
    return p


def _outputs(out):
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["settings"].pop("wall_s")
    results = (out / "results.json").read_text() if (out / "results.json").is_file() else None
    return metrics, results


def test_weights_metrics_identical_with_one_and_two_workers(tiny, tmp_path, capsys, monkeypatch, rows_net):
    pytest.importorskip("torch")
    import baiseg.commands.evaluate as cmd
    import baiseg.inference.scheduler as scheduler
    from baiseg.predictor import Predictor

    def load(weights, device, method, max_side=1024, mep_at="image"):
        return Predictor(rows_net(), ["disc", "box", "triangle"], method=method, max_side=max_side, mep_at=mep_at)

    monkeypatch.setattr(cmd, "_load_predictor", load)
    workers = []
    real = scheduler.run
    monkeypatch.setattr(scheduler, "run", lambda *a, **k: workers.append(k["workers"]) or real(*a, **k))
    seen = []
    for n in (1, 2):
        out = tmp_path / f"w{n}"
        rc = main(["evaluate", "--data", str(tiny), "--weights", "w.safetensors", "--device", "cpu", "--semantic",
                   "gt", "--workers", str(n), "--json", "--out", str(out)])  # fmt: skip
        assert rc == 0
        seen.append(_outputs(out))
    capsys.readouterr()
    assert workers == [1, 2]
    assert seen[0] == seen[1] and seen[0][0]["images"] == 5 and seen[0][1] is not None
    assert seen[0][0]["voc"]["mAP25"] > 0  # a score that could differ


def test_predictions_metrics_identical_with_zero_and_two_workers(tiny, tmp_path, capsys):
    rc = main(["evaluate", "--data", str(tiny), "--method", "dtws", "--workers", "2", "--json", "--out",
               str(tmp_path / "d")])  # fmt: skip
    assert rc == 0
    first = json.loads(capsys.readouterr().out)
    seen = []
    for n in (0, 2):
        out = tmp_path / f"p{n}"
        rc = main(["evaluate", "--data", str(tiny), "--predictions", str(tmp_path / "d" / "results.json"),
                   "--subset", "touching", "--workers", str(n), "--json", "--out", str(out)])  # fmt: skip
        assert rc == 0
        seen.append(_outputs(out)[0])
    capsys.readouterr()
    assert seen[0] == seen[1] and 0 < seen[0]["images"] <= first["images"]


@pytest.mark.parametrize(("value", "message"), [(-1, "must be >= 0"), (MAX_THREADS + 1, f"must be <= {MAX_THREADS}")])
def test_workers_bound_refused_before_any_work(tiny, tmp_path, capsys, monkeypatch, value, message):
    """The bound of ``baiseg predict``'s process counts (``config_rules.MAX_THREADS``)."""
    import baiseg.data

    def no_work(*a, **k):
        raise AssertionError("the dataset was read before the refusal")

    monkeypatch.setattr(baiseg.data, "build_dataset", no_work)
    out = tmp_path / "o"
    rc = main(["evaluate", "--data", str(tiny), "--method", "cc", "--workers", str(value), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and f"--workers {value} {message}" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_bad_results_entry_decoded_in_a_pool_process_is_one_line(tiny, tmp_path, capsys):
    """``finish`` decodes in a pool process: its refusal (a category id not of the dataset) still reaches the user
    as the results gate's one line, naming the image."""
    assert main(["evaluate", "--data", str(tiny), "--method", "cc", "--json", "--out", str(tmp_path / "c")]) == 0
    entries = json.loads((tmp_path / "c" / "results.json").read_text())
    entries[-1]["category_id"] = 99
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(entries))
    capsys.readouterr()
    rc = main(["evaluate", "--data", str(tiny), "--predictions", str(bad), "--workers", "2", "--out",
               str(tmp_path / "p")])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert rc == 2 and "category_id 99" in err and f"image '{entries[-1]['image_id']}'" in err
