"""The one-gate-per-kind-of-input readers: YAML (baiseg.yamlio) and device names (baiseg.devices), at every entrance."""

from __future__ import annotations

import pytest

from baiseg.cli import main
from baiseg.config import ConfigError, load_config, parse_overrides
from baiseg.data import build_dataset
from baiseg.devices import parse_device, resolve_device
from baiseg.errors import BaisegError, DataError
from baiseg.yamlio import load_yaml_text

BOMB = "a: &a [1, 2]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefg", "bcdefgh")
)


@pytest.mark.parametrize("text, match", [
    ("train:\n  iters: 5\ntrain:\n  iters: 60000\n", "'train' appears twice"),
    ("model:\n  iabm_r: 2\n  iabm_r: 4\n", "'iabm_r' appears twice"),
    (BOMB, "more than 32 aliases"),
    ("a: [1\n", "not valid YAML"),
])
def test_yaml_gate_refuses(text, match):
    with pytest.raises(ConfigError, match=match):
        load_yaml_text(text, "t.yaml", ConfigError)


def test_yaml_gate_at_every_entrance(tmp_path, capsys):
    dup = tmp_path / "dup.yaml"
    dup.write_text("train:\n  iters: 5\ntrain:\n  lr: 0.1\n")
    with pytest.raises(ConfigError, match="appears twice"):
        load_config(dup)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("# caf\xe9\ntrain:\n  iters: 5\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="is not UTF-8 .*save it as UTF-8"):
        load_config(latin)
    ds = tmp_path / "ds.yaml"
    ds.write_text("format: synthetic\nnum_images: 2\nnum_images: 3\n")
    with pytest.raises(DataError, match="appears twice"):
        build_dataset(ds)
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    assert main(["data", "check", str(bomb)]) == 2
    assert "aliases" in capsys.readouterr().err
    rows = tmp_path / "rows.yaml"
    rows.write_text("rows:\n  a: {}\n  a: {model.iabm_r: 2}\n")
    assert main(["sweep", "cpu_lite0", "--rows", str(rows), "--out", str(tmp_path / "sw")]) == 2
    assert "appears twice" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="appears twice"):
        parse_overrides(["model={iabm_r: 1, iabm_r: 2}"])


def test_utf8_with_bom_and_merge_keys_still_read(tmp_path):
    p = tmp_path / "bom.yaml"
    p.write_bytes("\ufefftrain:\n  iters: 7\n".encode("utf-8"))
    assert load_config(p).train.iters == 7
    assert load_yaml_text("base: &b {x: 1}\nitem:\n  <<: *b\n  y: 2\n", "m") == {"base": {"x": 1},
                                                                                 "item": {"x": 1, "y": 2}}


@pytest.mark.parametrize("name", ["auto", "cpu", "cuda", "cuda:1"])
def test_device_names_accepted(name):
    assert parse_device(name) == name


@pytest.mark.parametrize("name", ["gpu", "cuda0", "CUDA", "", "cpu:0", None])
def test_device_names_refused_everywhere(name, capsys):
    with pytest.raises(BaisegError, match="is not a device: use auto, cpu, cuda or cuda:N"):
        parse_device(name)
    if name:
        with pytest.raises(ConfigError, match="train.device"):
            load_config(None, [f"train.device={name}"])


def test_device_option_is_a_usage_error_before_any_work(tmp_path, capsys):
    for cmd in (["predict", "--weights", "w", "--input", "x", "--out", str(tmp_path / "o")],
                ["evaluate", "--data", "synthetic", "--method", "cc"], ["pseudo", "--data", "synthetic",
                "--out", str(tmp_path / "p")]):  # fmt: skip
        with pytest.raises(SystemExit) as e:
            main([*cmd, "--device", "gpu"])
        assert e.value.code == 2
        assert "is not a device" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() and not (tmp_path / "p").exists()


def test_cuda_without_a_gpu_is_refused():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    with pytest.raises(BaisegError, match="no CUDA device is visible"):
        resolve_device("cuda")
    assert resolve_device("auto") == "cpu"


def _png(path, value=0):
    import numpy as np
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((16, 20), value, np.uint8)).save(path)


@pytest.mark.parametrize("names", [("a.png", "a.jpg"), ("7.png", "007.png")])
def test_image_ids_must_be_unique_in_a_dataset(tmp_path, names, capsys):
    for n in names:
        _png(tmp_path / "img" / n, 0)
        _png(tmp_path / "msk" / f"{n.split('.')[0]}.png", 0)
    spec = tmp_path / "ds.yaml"
    spec.write_text("format: semantic_png\nimages: img\nmasks: msk\nclasses: [a]\n")
    with pytest.raises(DataError, match="have the same image id"):
        build_dataset(spec)
    assert main(["data", "check", str(spec)]) == 1
    assert "have the same image id" in capsys.readouterr().out


@pytest.mark.parametrize("names", [("7.png", "007.png"), ("a.png", "a.jpg")])
def test_image_ids_must_be_unique_in_a_predict_folder(tmp_path, capsys, names):
    for n in names:
        _png(tmp_path / "in" / n)
    rc = main(["predict", "--weights", str(tmp_path / "w.safetensors"), "--input", str(tmp_path / "in"),
               "--out", str(tmp_path / "o")])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "have the same image id" in err  # checked before the weights are read
    assert not (tmp_path / "o").exists()  # nothing created: the corrected rerun is not refused
    rc = main(["predict", "--weights", str(tmp_path / "w.safetensors"), "--input", str(tmp_path / "nothing"),
               "--out", str(tmp_path / "o")])  # fmt: skip
    assert rc == 2 and not (tmp_path / "o").exists() and "--input" in capsys.readouterr().err


def test_image_decoder_scales_by_bit_depth_and_never_clips(tmp_path):
    import numpy as np
    from PIL import Image

    from baiseg.data.io import read_image

    ramp = np.linspace(0, 4095, 12 * 16).reshape(12, 16)
    Image.fromarray(ramp.astype(np.float32), "F").save(tmp_path / "f12.tif")  # 12-bit microscopy as float32
    Image.fromarray(ramp.astype(np.int32), "I").save(tmp_path / "i12.tif")  # ... as int32
    for name in ("f12.tif", "i12.tif"):
        img = read_image(tmp_path / name)
        assert img.shape == (12, 16, 3) and img.dtype == np.uint8
        assert img.max() == 255 and img.min() == 0  # the 12-bit full scale, not clipped to white
        assert np.abs(img[..., 0].astype(float) - ramp * 255 / 4095).max() <= 1.0
        assert (img[..., 0] == 255).mean() < 0.05  # a ramp stays a ramp
    Image.fromarray(np.full((4, 5), 0.5, np.float32), "F").save(tmp_path / "unit.tif")
    assert read_image(tmp_path / "unit.tif")[0, 0, 0] == 128
    nan = np.zeros((4, 5), np.float32)
    nan[1, 1] = np.nan
    Image.fromarray(nan, "F").save(tmp_path / "nan.tif")
    with pytest.raises(DataError, match="NaN or infinite"):
        read_image(tmp_path / "nan.tif")
    la = np.zeros((6, 7, 2), np.uint8)
    la[..., 0], la[..., 1] = 90, 255
    Image.fromarray(la, "LA").save(tmp_path / "la.png")  # gray + alpha
    img = read_image(tmp_path / "la.png")
    assert img.shape == (6, 7, 3) and (img == 90).all()


def _rle_entry(**changes):
    import numpy as np

    from baiseg.instances import encode_rle

    m = np.zeros((4, 5), bool)
    m[1:3, 1:4] = True
    return {"image_id": "a", "category_id": 1, "segmentation": encode_rle(m[None])[0], "score": 0.5, **changes}


@pytest.mark.parametrize("change, match", [
    ({"category_id": 1.7}, "category ids are integers"),
    ({"category_id": True}, "category ids are integers"),
    ({"score": float("nan")}, "finite numbers"),
    ({"image_id": [1]}, "image_id"),
    ({"segmentation": [[0, 0, 1, 1, 2, 0]]}, "not an RLE"),
    ({"segmentation": {"size": [4, 5], "counts": [3, 2]}}, "adding up to 4 x 5"),
])
def test_results_gate_refuses(tmp_path, change, match):
    import json

    from baiseg.evaluation.common import EvaluationError
    from baiseg.evaluation.results import read_results

    p = tmp_path / "r.json"
    p.write_text(json.dumps([_rle_entry(**change)]).replace("NaN", "NaN"))
    with pytest.raises(EvaluationError, match=match):
        read_results(p)


def test_uncompressed_rle_is_read(tmp_path):
    import json

    import numpy as np

    from baiseg.evaluation.results import decode_rles, read_results

    m = np.zeros((4, 5), bool)
    m[1:3, 1:4] = True
    flat = m.flatten(order="F")  # COCO runs go down the columns, starting with a run of zeros
    runs, cur, n = [], False, 0
    for v in flat:
        if v != cur:
            runs.append(n)
            cur, n = v, 0
        n += 1
    runs.append(n)
    p = tmp_path / "r.json"
    p.write_text(json.dumps([_rle_entry(segmentation={"size": [4, 5], "counts": runs})]))
    entry = read_results(p)["a"][0]  # checked by the results gate, then decoded as the evaluators do
    assert np.array_equal(decode_rles([entry["segmentation"]], 4, 5)[0], m)


def test_evaluator_api_refuses_nan_scores_and_fractional_classes():
    import numpy as np

    from baiseg.evaluation import COCOInstanceEvaluator, VOCInstanceEvaluator
    from baiseg.evaluation.common import EvaluationError

    m = np.zeros((1, 4, 5), bool)
    m[0, 1:3, 1:4] = True
    sample = {"image_id": "a", "semantic": m[0].astype(np.uint8),
              "instances": {"masks": m, "classes": np.array([1]), "crowd": np.array([False])}}
    for ev in (VOCInstanceEvaluator(num_classes=1), COCOInstanceEvaluator(1)):
        with pytest.raises(EvaluationError, match="NaN or infinite scores"):
            ev.process(sample, {"masks": m, "classes": np.array([1]), "scores": np.array([np.nan])})
        with pytest.raises(EvaluationError, match="must be integers"):
            ev.process(sample, {"masks": m, "classes": np.array([1.7]), "scores": np.array([0.5])})


def test_external_semantic_ids_above_k_refused_by_every_command(tmp_path, capsys):
    """The one semantic-map reader (data.io.read_semantic_map) at pseudo, evaluate and predict: an id above K stops the
    command with one line before any image is finished."""
    import numpy as np
    from PIL import Image

    from baiseg.data import build_dataset

    ds = build_dataset("synthetic", num_images=2, size=64, num_classes=2, seed=3)
    sem_dir = tmp_path / "sem"
    sem_dir.mkdir()
    for i in range(len(ds)):
        s = ds[i]
        sem = s["semantic"].copy()
        sem[0, 0] = 9  # K = 2
        Image.fromarray(sem).save(sem_dir / f"{s['image_id']}.png")
    spec = tmp_path / "syn.yaml"
    spec.write_text("format: synthetic\nnum_images: 2\nsize: 64\nnum_classes: 2\nseed: 3\n")
    rc = main(["pseudo", "--data", str(spec), "--method", "cc", "--semantic", str(sem_dir), "--out",
               str(tmp_path / "p"), "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "holds ids 9 outside" in err and "Traceback" not in err
    rc = main(["evaluate", "--data", str(spec), "--method", "cc", "--semantic", str(sem_dir), "--out",
               str(tmp_path / "e")])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "holds ids 9 outside" in err
    from baiseg.data.io import read_semantic_map

    with pytest.raises(DataError, match="is 64x64, the image is 32x32"):
        read_semantic_map(sem_dir, ds[0]["image_id"], (32, 32), 2)
    with pytest.raises(DataError, match="is missing"):
        read_semantic_map(sem_dir, "nope", (64, 64), 2)
    assert read_semantic_map(sem_dir, ds[0]["image_id"], (64, 64), 9).dtype == np.uint8


def test_override_values_that_are_not_yaml_stay_text():
    assert parse_overrides(["data.train=a: [b"]) == {"data": {"train": "a: [b"}}
    assert parse_overrides(["train.iters=5"]) == {"train": {"iters": "5"}}  # a Config scalar: the text (coerce)
    assert parse_overrides(["train={iters: 5}"]) == {"train": {"iters": 5}}
