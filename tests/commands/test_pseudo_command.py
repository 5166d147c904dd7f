"""``baiseg pseudo``: round trip as a dataset, resume after a kill, 2-process torchrun, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from baiseg.cli import main
from baiseg.data import build_dataset
from baiseg.data.synthetic import render
from baiseg.instances import Instances
from baiseg.postprocess.methods import instances_from_semantic

REPO = Path(__file__).resolve().parents[2]
N = 5


@pytest.fixture(scope="module")
def pf_like(tmp_path_factory) -> Path:
    """A Penn-Fudan-like instance_png dataset of N synthetic 64x64 images (3 classes, touching instances)."""
    root = tmp_path_factory.mktemp("pf")
    lines = ["# stem id class"]
    for i in range(N):
        s = render(7, i, 64, 64, 3)
        (root / "img").mkdir(exist_ok=True), (root / "msk").mkdir(exist_ok=True)
        Image.fromarray(s["image"]).save(root / "img" / f"im{i}.png")
        ids = np.zeros((64, 64), np.uint8)
        for k, (m, c) in enumerate(zip(s["instances"]["masks"], s["instances"]["classes"]), start=1):
            ids[m & (ids == 0)] = k
            lines.append(f"im{i} {k} {['a', 'b', 'c'][int(c) - 1]}")
        Image.fromarray(ids).save(root / "msk" / f"im{i}_m.png")
    (root / "classes.txt").write_text("\n".join(lines) + "\n")
    spec = {"format": "instance_png", "images": "img", "masks": "msk", "mask_suffix": "_m", "classes": ["a", "b", "c"],
            "classes_file": "classes.txt"}
    (root / "ds.yaml").write_text(yaml.safe_dump(spec))
    return root / "ds.yaml"


def _pseudo(data: Path, out: Path, *extra: str) -> int:
    return main(["pseudo", "--data", str(data), "--method", "cc", "--out", str(out), "--chunk", "2", "--no-progress",
                 *extra])


def test_round_trip_as_a_dataset(pf_like, tmp_path):
    assert _pseudo(pf_like, tmp_path / "p") == 0
    src = build_dataset(str(pf_like))
    ps = build_dataset(str(tmp_path / "p" / "pseudo.yaml"))
    assert ps.class_names == src.class_names and ps.category_ids == src.category_ids
    assert [ps[i]["image_id"] for i in range(len(ps))] == [src[i]["image_id"] for i in range(len(src))]
    for i in range(len(src)):
        want = instances_from_semantic("cc", src[i]["semantic"])
        got = ps[i]["instances"]
        order = np.argsort(-want.masks.reshape(len(want), -1).sum(1), kind="stable")
        got_order = np.argsort(-got["masks"].reshape(len(got["masks"]), -1).sum(1), kind="stable")
        assert np.array_equal(got["masks"][got_order], want.masks[order])
        assert np.array_equal(got["classes"][got_order], want.classes[order])
        assert np.array_equal(ps[i]["image"], src[i]["image"])
    info = json.loads((tmp_path / "p" / "pseudo_info.json").read_text())
    assert info["images"] == N and info["settings"]["method"] == "cc"
    assert main(["evaluate", "--data", str(pf_like), "--predictions", str(tmp_path / "p" / "results.json"),
                 "--out", str(tmp_path / "q")]) == 0


def test_filters_and_settings_guard(pf_like, tmp_path, capsys):
    assert _pseudo(pf_like, tmp_path / "p", "--min-area", "400") == 0
    anns = json.loads((tmp_path / "p" / "pseudo.json").read_text())["annotations"]
    assert anns and all(a["area"] >= 400 for a in anns)
    assert _pseudo(pf_like, tmp_path / "p", "--min-area", "10") == 2  # other settings into the same folder
    assert "other settings" in capsys.readouterr().err


def test_rerun_continues_a_killed_run(pf_like, tmp_path):
    assert _pseudo(pf_like, tmp_path / "full") == 0
    assert _pseudo(pf_like, tmp_path / "cut") == 0
    # a run killed after its second chunk: the later chunks and the merged outputs do not exist yet
    for f in ("pseudo.json", "pseudo.yaml", "results.json", "pseudo_info.json", "chunks/00002.json"):
        (tmp_path / "cut" / f).unlink()
    before = (tmp_path / "cut" / "chunks" / "00000.json").stat().st_mtime_ns
    assert _pseudo(pf_like, tmp_path / "cut") == 0
    assert (tmp_path / "cut" / "chunks" / "00000.json").stat().st_mtime_ns == before  # not redone
    for f in ("pseudo.json", "results.json"):
        assert (tmp_path / "cut" / f).read_bytes() == (tmp_path / "full" / f).read_bytes()


def test_torchrun_two_cpu_processes(pf_like, tmp_path):
    assert _pseudo(pf_like, tmp_path / "one") == 0
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           "-m", "baiseg", "pseudo", "--data", str(pf_like), "--method", "cc", "--out", str(tmp_path / "two"),
           "--chunk", "2", "--no-progress"]
    r = subprocess.run(cmd, env=env, capture_output=True, timeout=240)
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    assert (tmp_path / "two" / "pseudo.json").read_bytes() == (tmp_path / "one" / "pseudo.json").read_bytes()


def test_bad_input_is_one_line(pf_like, tmp_path, capsys):
    assert main(["pseudo", "--data", str(pf_like), "--out", str(tmp_path / "x")]) == 2  # baiseg needs weights
    assert "needs BAISeg weights" in capsys.readouterr().err
    assert main(["pseudo", "--data", str(pf_like), "--method", "yolo", "--out", str(tmp_path / "x")]) == 2
    f = tmp_path / "file"
    f.write_text("x")
    assert _pseudo(pf_like, f) == 2
    assert "is a file" in capsys.readouterr().err
    # a pseudo folder whose JSON is gone cannot be trained on
    assert _pseudo(pf_like, tmp_path / "p") == 0
    (tmp_path / "p" / "pseudo.json").unlink()
    assert main(["train", "maskrcnn_lite0", f"data.train={tmp_path / 'p' / 'pseudo.yaml'}", "data.val=null",
                 f"train.out_dir={tmp_path / 'runs'}", "model.pretrained=false"]) == 2
    assert "pseudo.json" in capsys.readouterr().err


def test_mask_rcnn_weights_are_refused(tmp_path, pf_like, capsys):
    from baiseg.config import load_config
    from baiseg.models import build_model
    from baiseg.weights_io import save_weights

    cfg = load_config(None, ["model.arch=maskrcnn", "model.backbone=test_efficientnet", "model.pretrained=false",
                             "model.rcnn.fpn_dim=32", "model.rcnn.mask_dim=16", "model.num_classes=4"])
    w = save_weights(tmp_path / "r.safetensors", build_model(cfg.model), cfg, ["a", "b", "c"])
    assert main(["pseudo", "--data", str(pf_like), "--weights", str(w), "--out", str(tmp_path / "x")]) == 2
    assert "Mask R-CNN" in capsys.readouterr().err


def test_mep_workers_give_the_same_labels(pf_like, tmp_path):
    assert _pseudo(pf_like, tmp_path / "a") == 0
    assert _pseudo(pf_like, tmp_path / "b", "--workers", "1") == 0
    assert (tmp_path / "a" / "pseudo.json").read_bytes() == (tmp_path / "b" / "pseudo.json").read_bytes()


def test_images_without_instances_are_kept_with_none():
    from baiseg.data.instance_transforms import InstanceTrainTransform
    from baiseg.pseudo import filter_instances

    assert filter_instances(Instances.empty(5, 7), 0.5, 10).masks.shape == (0, 5, 7)
    masks = np.zeros((3, 5, 7), bool)
    masks[0, :3], masks[1, :1], masks[2, 3:] = True, True, True  # 21, 7 and 14 pixels
    kept = filter_instances(Instances(masks, [1, 2, 1], [0.9, 0.8, 0.4]), 0.5, 10)
    assert kept.classes.tolist() == [1] and np.array_equal(kept.masks, masks[:1])  # 1: too small, 2: too low
    sample = {"image": np.zeros((5, 7, 3), np.uint8), "path": "x.png",
              "instances": {"masks": np.zeros((0, 5, 7), bool), "classes": np.zeros(0, np.int64),
                            "crowd": np.zeros(0, bool)}}
    out = InstanceTrainTransform()(sample, np.random.default_rng(0))
    assert out["boxes"].shape == (0, 4) and out["masks"].shape == (0, 5, 7)
