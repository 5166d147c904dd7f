"""``baiseg report`` without a browser: what the page's data say about tiny evaluate, predict and run folders, the
files they point to, and the one-line errors on folders it cannot read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from baiseg.cli import main
from baiseg.report import ReportError, build_report, folder_kind
from tests.report.tiny import WORST, dataset_yaml, make_evaluation, make_run


def read_summary(out: Path) -> dict:
    text = (out / "data" / "summary.js").read_text()
    assert text.startswith("window.REPORT = ")
    return json.loads(text[len("window.REPORT = ") :].rstrip().rstrip(";"))


def referenced(out: Path, detail_name: str) -> dict:
    text = (out / "data" / "img" / f"{detail_name}.js").read_text()
    return json.loads(text[text.index(",") + 1 : text.rindex(")")])


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("eval")
    return make_evaluation(root / "ev", dataset_yaml(root))


def test_evaluate_report_counts_the_known_errors(evaluation: Path, tmp_path: Path) -> None:
    index = build_report([evaluation], tmp_path / "r")
    assert index.name == "index.html" and "assets/report.js" in index.read_text()
    s = read_summary(tmp_path / "r")
    assert s["kind"] == "images" and s["methods"] == ["made-up (gt)"] and len(s["images"]) == 4
    err = [row["err"][0] for row in s["images"]]  # missed, false, split, merged
    assert err[0] == [0, 0, 0, 0]
    detail = referenced(tmp_path / "r", s["images"][WORST]["n"])
    assert err[WORST] == [len(detail["gt"]), 0, 0, 0] and len(detail["gt"]) > 0
    assert err[2] == [0, 0, 1, 0] and err[3][3] == 1
    assert s["metrics"][0]["voc"]["mAP75"] == 55.5 and set(s["pr"]) <= set(s["classes"])


def test_every_referenced_file_exists(evaluation: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    build_report([evaluation], out)
    for row in read_summary(out)["images"]:
        assert (out / "thumb" / f"{row['n']}.jpg").is_file()
        d = referenced(out, row["n"])
        paths = [d["img"]] + [m[k] for m in d["methods"] for k in ("boundary", "semantic") if k in m]
        assert len(paths) == 3 and all((out / p).is_file() for p in paths)
        inst = d["methods"][0]["inst"]
        assert all(len(r) >= 6 for i in inst for r in i["poly"]) and all("iou" in i and "kind" in i for i in inst)
        assert cv2.imread(str(out / "thumb" / f"{row['n']}.jpg")).shape[:2] == (96, 96)


def test_two_evaluations_side_by_side(evaluation: Path, tmp_path: Path) -> None:
    other = tmp_path / "ev2"
    shutil.copytree(evaluation, other)
    s = read_summary(build_report([evaluation, other], tmp_path / "r").parent)
    assert s["methods"] == ["made-up (gt) [ev]", "made-up (gt) [ev2]"]
    assert all(len(row["err"]) == 2 for row in s["images"]) and len(s["metrics"]) == 2


def test_evaluations_of_other_data_are_refused(evaluation: Path, tmp_path: Path) -> None:
    other = make_evaluation(tmp_path / "ev3", dataset_yaml(tmp_path / "d3", num_images=2), boundary=False)
    with pytest.raises(ReportError, match="different data"):
        build_report([evaluation, other], tmp_path / "r")


def test_run_report(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    assert folder_kind(run) == "run"
    s = read_summary(build_report([run], tmp_path / "r").parent)
    charts = {c["title"]: c["series"] for c in s["charts"]}
    assert set(charts) == {"losses", "validation", "learning rate"}
    assert charts["losses"]["loss"][0] == [10.0, 0.3] and [p[0] for p in charts["validation"]["val_map50"]] == [50, 100]
    assert [st["iteration"] for st in s["val_images"]] == [50, 100]
    assert all((tmp_path / "r" / i["src"]).is_file() for st in s["val_images"] for i in st["images"])
    assert "val_images: 2" in s["config"] and s["iterations"] == 100


def test_predict_report_from_a_folder_of_images(evaluation: Path, tmp_path: Path) -> None:
    pred, images = tmp_path / "pred", tmp_path / "images"
    (pred / "instances").mkdir(parents=True)
    images.mkdir()
    results = json.loads((evaluation / "results.json").read_text())
    (pred / "results.json").write_text(json.dumps([r for r in results if r["image_id"] == "synthetic_train_000000"]))
    cv2.imwrite(str(images / "synthetic_train_000000.png"), np.zeros((96, 96, 3), np.uint8))
    with pytest.raises(ReportError, match="--images"):
        build_report([pred], tmp_path / "r")
    s = read_summary(build_report([pred], tmp_path / "r", images=str(images)).parent)
    assert [row["id"] for row in s["images"]] == ["synthetic_train_000000"] and s["images"][0]["err"] is None
    assert len(referenced(tmp_path / "r", "00000")["methods"][0]["inst"]) > 0
    assert not s["has_gt"] and not s["metrics"]
    (pred / "predict.json").write_text(json.dumps({"input": str(images)}))
    assert len(read_summary(build_report([pred], tmp_path / "r2").parent)["images"]) == 1


@pytest.mark.parametrize("case", ["missing", "empty", "mixed"])
def test_bad_folders_exit_2_with_one_line(case: str, evaluation: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    (tmp_path / "empty").mkdir()
    folders = {"missing": [str(tmp_path / "nope")], "empty": [str(tmp_path / "empty")],
               "mixed": [str(evaluation), str(make_run(tmp_path / "run"))]}[case]  # fmt: skip
    assert main(["report", *folders, "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("baiseg report: error:") and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "r" / "index.html").exists()


def test_out_may_not_be_the_input(evaluation: Path) -> None:
    with pytest.raises(ReportError, match="input folder"):
        build_report([evaluation], evaluation)


def test_cli_default_out(evaluation: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ev = tmp_path / "ev"
    shutil.copytree(evaluation, ev)
    assert main(["report", str(ev), "--no-progress"]) == 0
    assert (ev / "report" / "index.html").is_file() and "file://" in capsys.readouterr().out


def test_out_holding_other_files_is_refused_and_a_report_is_replaced(evaluation: Path, tmp_path: Path) -> None:
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(ReportError, match="not a report"):
        build_report([evaluation], other)
    assert (other / "notes.txt").read_text() == "keep me"
    out = tmp_path / "r"
    build_report([evaluation], out)
    (out / "img" / "stale.jpg").write_bytes(b"old")
    build_report([evaluation], out)
    assert not (out / "img" / "stale.jpg").exists() and (out / "index.html").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging / old folder left
