"""Campaign 5 (docs/HARDENING.md, "The fifth bad-input campaign"): the faults it found, each fixed at its gate
(``Instances`` and ``coco_results``, the report's readers, dataset ``list`` files, the contour settings); each test
failed before its fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from baiseg.errors import BaisegError, DataError
from baiseg.instances import Instances, InstancesError, coco_results

ONE = np.ones((1, 4, 4), bool)


@pytest.mark.parametrize(
    ("masks", "classes", "scores", "match"),
    [
        (np.zeros((2, 4, 4)), [1], [0.5], "shapes"),  # was a ValueError (a traceback for the CLI and the API)
        (np.zeros((4, 4)), [1], [0.5], "shapes"),
        (ONE, [1], [float("nan")], "finite"),  # was kept: NaN scores cannot be ranked
        (ONE, [1.7], [0.5], "integer"),  # was read as 1
        (ONE, [0], [0.5], "integer"),  # was kept: class 0 is background, and coco_results indexed category_ids[-1]
        (ONE, [2**40], [0.5], "integer"),  # was kept: no uint8 semantic id
        (np.full((1, 4, 4), 0.3), [1], [0.5], "0 and 1"),  # was read as True
    ],
)
def test_instances_refuse_arrays_that_are_no_instances(masks, classes, scores, match):
    with pytest.raises(InstancesError, match=match):
        Instances(masks, classes, scores)
    assert issubclass(InstancesError, BaisegError)


def test_instances_keep_what_every_producer_gives():
    inst = Instances(np.ones((2, 4, 4), np.uint8), np.array([1.0, 254.0]), [0.25, 5.0])  # any finite score: COCO's
    assert inst.masks.dtype == bool and inst.classes.tolist() == [1, 254] and inst.scores.dtype == np.float32


@pytest.mark.parametrize("size", [(0, 5), (-3, 5), (4, 2.5)])
def test_instances_resize_refuses_sizes_below_one(size):
    with pytest.raises(InstancesError, match="at least 1"):  # was an OpenCV assertion or a NumPy ValueError
        Instances(ONE, [1], [0.5]).resize(*size)


def test_coco_results_refuses_a_class_without_category_id():
    inst = Instances(np.ones((2, 4, 4), bool), [1, 2], [0.9, 0.8])
    with pytest.raises(InstancesError, match="class id 2 has no category id"):  # was an IndexError
        coco_results(inst, "a", [7])
    assert [r["category_id"] for r in coco_results(inst, "a", [7, 9])] == [7, 9]


def _dataset(tmp_path: Path, list_text: str | None = None) -> Path:
    for sub in ("images", "masks"):
        (tmp_path / sub).mkdir()
    for i in range(2):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(tmp_path / "images" / f"a{i}.png")
        ids = np.zeros((8, 8), np.uint8)
        ids[2:6, 2:6] = 1
        Image.fromarray(ids).save(tmp_path / "masks" / f"a{i}.png")
    text = "format: instance_png\nimages: images\nmasks: masks\nclasses: [c1]\n"
    if list_text is not None:
        (tmp_path / "l.txt").write_text(list_text)
        text += "list: l.txt\n"
    (tmp_path / "d.yaml").write_text(text)
    return tmp_path / "d.yaml"


def test_a_list_file_naming_a_missing_image_is_an_error(tmp_path):
    from baiseg.data import build_dataset

    data = _dataset(tmp_path, "a0\nzz\n")
    with pytest.raises(DataError, match="id 'zz' from the list file"):  # was one image, a warning in the log
        build_dataset(data)
    ds = build_dataset(data, strict=False)  # data check lists it
    assert len(ds) == 1 and any("'zz'" in p for p in ds.problems)


def test_the_report_refuses_results_of_images_not_in_the_dataset(tmp_path):
    from baiseg.report.collect import Method, ReportError, evaluation_images

    data = _dataset(tmp_path)
    good = Method("m", tmp_path, {"a0": []}, {}, {"data": str(data)})
    assert evaluation_images([good])[1] == [0, 1]
    bad = Method("m", tmp_path, {"zz0": [], "a0": []}, {}, {"data": str(data)})
    with pytest.raises(ReportError, match="1 image id\\(s\\) not in"):  # was a report without them, exit 0
        evaluation_images([bad])


@pytest.mark.parametrize(("text", "match"), [("", "no 'iteration' column"), ("iteration,loss\n1,abc\n", "'abc'")])
def test_the_report_refuses_a_metrics_csv_it_cannot_draw(tmp_path, text, match):
    from baiseg.report.collect import ReportError
    from baiseg.report.run import read_metrics_csv

    (tmp_path / "metrics.csv").write_text(text)
    with pytest.raises(ReportError, match=match):  # was an empty report, exit 0
        read_metrics_csv(tmp_path / "metrics.csv")
    (tmp_path / "metrics.csv").write_text("iteration,loss,val\n1,0.5,\n2,nan,0.3\n")
    assert read_metrics_csv(tmp_path / "metrics.csv") == {"loss": [[1.0, 0.5]], "val": [[2.0, 0.3]]}


@pytest.mark.parametrize("key", ["data.contour.width_px", "data.contour.void_fill_px"])
def test_contour_sizes_are_bounded(key):
    from baiseg.config import load_config
    from baiseg.config_rules import MAX_CONTOUR_PX

    with pytest.raises(BaisegError, match=f"<= {MAX_CONTOUR_PX}"):  # width 100000 allocated 37 GiB: MemoryError
        load_config(None, [f"{key}=100000"])
    assert getattr(load_config(None, [f"{key}={MAX_CONTOUR_PX}"]).data.contour, key.rsplit(".", 1)[1]) == 64


@pytest.mark.parametrize("kwargs", [{"width_px": 100000}, {"void_fill_px": 100000}])
def test_the_contour_label_takes_the_configs_bounds(kwargs):
    from baiseg.data.contour import semantic_contour

    with pytest.raises(BaisegError, match="<= 64"):  # data show --width-px 100000 passed here: MemoryError
        semantic_contour(np.zeros((4, 4), np.int64), **kwargs)


def test_pseudo_sam_without_weights_leaves_no_output_folder(tmp_path, capsys):
    from baiseg.cli import main

    data, out = _dataset(tmp_path), tmp_path / "out"
    argv = ["pseudo", "--data", str(data), "--out", str(out), "--no-progress"]
    assert main([*argv, "--method", "sam", "--sam-weights", str(tmp_path / "no.pt")]) == 2
    assert "not found" in capsys.readouterr().err
    assert not out.exists()  # was created and stamped 'sam': the corrected rerun with --method cc was refused
    assert main([*argv, "--method", "cc"]) == 0


@pytest.mark.parametrize("keep", [[5], [0.5], [True]])
def test_instances_select_refuses_what_selects_nothing_it_holds(keep):
    inst = Instances(np.ones((2, 4, 4), bool), [1, 2], [0.9, 0.8])
    with pytest.raises(InstancesError, match="select"):  # [5] was an IndexError, [0.5] instance 0 without a word
        inst.select(keep)
    assert inst.select([1, 0]).classes.tolist() == [2, 1] and len(inst.select([])) == 0


def test_instances_empty_refuses_a_negative_size():
    with pytest.raises(InstancesError, match="at least 1"):  # was a NumPy ValueError
        Instances.empty(-1, 3)


def test_from_pretrained_refuses_an_unknown_option_before_loading(tmp_path):
    from baiseg.predictor import Predictor

    with pytest.raises(BaisegError, match="unknown option\\(s\\) \\['bogus'\\]"):  # was a TypeError from __init__
        Predictor.from_pretrained(tmp_path / "missing.safetensors", bogus=1)


def test_the_report_refuses_images_for_an_evaluate_folder(tmp_path):
    from baiseg.report import ReportError, build_report

    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "metrics.json").write_text('{"settings": {}}')
    with pytest.raises(ReportError, match="--images applies to a predict output"):  # was ignored without a word
        build_report([tmp_path / "ev"], tmp_path / "rep", images=str(tmp_path))
