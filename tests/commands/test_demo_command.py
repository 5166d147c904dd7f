"""``baiseg demo`` end to end on a tiny budget: trains, evaluates every method through the library, writes sheets."""

from __future__ import annotations

import json

from baiseg.cli import main


def test_demo_runs_end_to_end(tmp_path, capsys, monkeypatch):
    import baiseg.inference.scheduler as scheduler

    runs = []  # the evaluation goes through the one scheduler: one run per (method, semantic) setting
    real = scheduler.run
    monkeypatch.setattr(scheduler, "run", lambda *a, **k: runs.append(type(a[1]).__name__) or real(*a, **k))
    out = tmp_path / "demo"
    status = main(["demo", "--out", str(out), "--iters", "2", "--train-images", "4", "--val-images", "3",
                   "--size", "64", "--sheets", "1", "--no-progress", "train.batch_size=2"])  # fmt: skip
    assert status == 0
    summary = json.loads((out / "summary.json").read_text())
    methods = {(r["method"], r["semantic"]) for r in summary["results"]}
    assert methods == {(m, s) for m in ("cc", "dtws", "baiseg") for s in ("gt", "model")}
    for r in summary["results"]:
        assert r["voc"]["mAP50"] is None or 0.0 <= r["voc"]["mAP50"] <= 100.0
    assert len(list((out / "overlays").glob("*.png"))) == 1
    for r in summary["results"]:  # each setting evaluated by `baiseg evaluate` itself, maps saved for the report
        folder = out / "eval" / f"{r['method']}-{r['semantic']}"
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["voc"] == r["voc"] and metrics["settings"]["method"] == r["method"]
        assert (folder / "results.json").is_file() and len(list((folder / "boundary").glob("*.png"))) == 3
    data = (out / "report" / "data" / "summary.js").read_text()
    assert (out / "report" / "index.html").is_file() and all(f"{m}-{s}" in data for m, s in methods)
    assert runs.count("KeepNetworkBoundary") == 6  # one evaluate run per setting (its Predictor, keeping the maps)
    printed = capsys.readouterr().out
    assert all(m in printed for m in ("cc", "dtws", "baiseg"))
