"""Property-based tests of the input gates (issue 21), with ``hypothesis``.

Random YAML texts (configs, dataset YAMLs, overrides), random COCO and results JSON, random image files of every mode
and dtype: each either works or fails with a baiseg error whose message is one line (exit 2 through the CLI), never
another exception, and nothing already written is lost. Bounded (``max_examples``, no deadline, no example database)
so that the file runs in well under a minute on a loaded 2-core machine.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from baiseg.cli import main  # noqa: E402
from baiseg.errors import BaisegError  # noqa: E402

FAST = settings(max_examples=40, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
SLOW = settings(FAST, max_examples=12)


def one_line(e: BaseException) -> str:
    msg = str(e)
    assert msg.strip() and "\n" not in msg and len(msg) < 2000, msg  # one line (valid-key lists make it long)
    return msg


def works_or_one_line(fn, *args, **kwargs):
    """``fn(...)``'s value, or None when it raised a BaisegError with a one-line message; anything else fails."""
    try:
        return fn(*args, **kwargs)
    except BaisegError as e:
        one_line(e)
        return None


# ---------------------------------------------------------------------------------------------------------- YAML
YAML_CHARS = st.sampled_from(list("ab:-_ \n\t[]{},&*!#'\"|>%@`?=.0123456789\\") + ["\u00e9", "\ufeff", "\x00", "\x85"])
yaml_text = st.text(YAML_CHARS, max_size=120)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
                    st.text(max_size=12))  # fmt: skip
values = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                      max_leaves=8)  # fmt: skip


@FAST
@given(text=yaml_text)
def test_yaml_text_is_parsed_or_refused_in_one_line(text):
    from baiseg.yamlio import load_yaml_text

    works_or_one_line(load_yaml_text, text, "the text")


@FAST
@given(data=st.binary(max_size=80))
def test_yaml_bytes_of_any_encoding_are_read_or_refused(tmp_path, data):
    from baiseg.yamlio import load_yaml_file

    p = tmp_path / "f.yaml"
    p.write_bytes(data)
    works_or_one_line(load_yaml_file, p, f"'{p}'")


CONFIG_KEYS = ["model.backbone", "model.num_classes", "model.iabm_dim", "train.iters", "train.lr", "train.device",
               "train.batch_size", "train.accum_steps", "data.crop_size", "mep.boundary_thr", "mep.marker_source",
               "mep.watershed_levels", "loss.contrast_warmup_iters", "nokey", "train", "mep.nope"]  # fmt: skip


@FAST
@given(tree=st.dictionaries(st.sampled_from(CONFIG_KEYS), values, max_size=4), text=yaml_text)
def test_config_files_load_or_are_refused(tmp_path, tree, text):
    from baiseg.config import load_config

    nested: dict = {}
    for key, v in tree.items():
        head, _, tail = key.partition(".")
        if tail and isinstance(nested.setdefault(head, {}), dict):
            nested[head][tail] = v
        else:
            nested[head] = v
    for body in (json.dumps(nested, allow_nan=True), text):  # JSON is YAML (NaN written as NaN: not YAML's .nan)
        p = tmp_path / "c.yaml"
        p.write_text(body, encoding="utf-8")
        works_or_one_line(load_config, p)


@FAST
@given(key=st.sampled_from(CONFIG_KEYS), value=st.text(YAML_CHARS, max_size=30))
def test_override_strings_are_applied_or_refused(key, value):
    from baiseg.config import load_config, resolve_preset, to_dict

    cfg = works_or_one_line(load_config, resolve_preset("cpu_lite0"), [f"{key}={value}"])
    if cfg is not None:
        json.dumps(to_dict(cfg))  # whatever was accepted is a plain, serialisable value


@SLOW
@given(value=st.text(YAML_CHARS, max_size=20))
def test_override_through_the_cli_is_exit_0_or_2_with_one_line(capsys, value):
    rc = main(["config", "cpu_lite0", f"train.iters={value}"])
    err = capsys.readouterr().err.strip()
    assert rc in (0, 2)
    if rc == 2:
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err


DATASET_KEYS = ["format", "root", "images", "annotations", "labels", "list", "split", "classes", "class_subset",
                "num_images", "size", "num_classes", "seed", "masks", "semantic"]  # fmt: skip
FORMATS = ["voc", "coco", "coco_panoptic", "instance_png", "semantic_png", "synthetic", "kitti", 3, None]


@FAST
@given(fmt=st.sampled_from(FORMATS), tree=st.dictionaries(st.sampled_from(DATASET_KEYS), values, max_size=4))
@example(fmt="voc", tree={"format": []})  # was a TypeError (unhashable) in DatasetSpec
@example(fmt="coco", tree={"format": {"a": 1}})
def test_dataset_yamls_open_or_are_refused(tmp_path, fmt, tree):
    from baiseg.data import build_dataset

    tree = {"format": fmt, **tree}
    if tree.get("format") == "synthetic":  # keep generated datasets small: the property is about the gate
        tree["num_images"] = 2 if isinstance(tree.get("num_images"), int) else tree.get("num_images")
        tree["size"] = 32 if isinstance(tree.get("size"), int) else tree.get("size")
    p = tmp_path / "d.yaml"
    p.write_text(json.dumps(tree, allow_nan=True))
    ds = works_or_one_line(build_dataset, p, load_instances=False)
    if ds is not None and len(ds):
        works_or_one_line(ds.__getitem__, 0)


@SLOW
@given(tree=st.dictionaries(st.sampled_from(DATASET_KEYS), values, max_size=3))
def test_data_show_on_random_yaml_loses_nothing(tmp_path_factory, capsys, tree):
    work = tmp_path_factory.mktemp("show")
    out = work / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    spec = work / "d.yaml"
    spec.write_text(json.dumps({"format": "instance_png", **tree}, allow_nan=True))
    rc = main(["data", "show", str(spec), "--out", str(out), "--n", "1"])
    err = capsys.readouterr().err.strip()
    assert rc in (0, 2) and (rc == 0 or (len(err.splitlines()) == 1 and "Traceback" not in err)), err
    assert (out / "keep.txt").read_text() == "mine"


# ------------------------------------------------------------------------------------------------- COCO / results
@pytest.fixture(scope="module")
def coco_root(tmp_path_factory):
    from PIL import Image

    root = tmp_path_factory.mktemp("coco")
    (root / "img").mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(np.full((12, 16, 3), 100, np.uint8)).save(root / "img" / name)
    return root


ids = st.one_of(st.integers(-2, 3), st.floats(allow_nan=True), st.text(max_size=3), st.none(), st.just(1.0))
polygon = st.lists(st.one_of(st.floats(-5, 30), st.integers(-5, 30), st.just(math.nan), st.text(max_size=2)),
                   max_size=10)  # fmt: skip
rle = st.fixed_dictionaries({"size": st.one_of(st.just([12, 16]), st.lists(st.integers(-1, 20), max_size=3), scalars),
                             "counts": st.one_of(st.text(max_size=8), st.lists(st.integers(-3, 200), max_size=6),
                                                 scalars)})  # fmt: skip
segmentation = st.one_of(st.lists(polygon, max_size=2), rle, scalars)
bbox = st.one_of(st.lists(st.one_of(st.floats(-5, 40), st.just(math.inf)), min_size=0, max_size=5), scalars)
annotation = st.fixed_dictionaries({"id": ids, "image_id": ids, "category_id": ids},
                                   optional={"segmentation": segmentation, "bbox": bbox, "area": scalars,
                                             "iscrowd": st.one_of(st.integers(-1, 2), scalars)})  # fmt: skip
image = st.fixed_dictionaries({"id": ids, "file_name": st.sampled_from(["a.png", "b.png", "c.png", "", "../x.png"])},
                              optional={"width": ids, "height": ids})  # fmt: skip
category = st.fixed_dictionaries({"id": ids, "name": st.one_of(st.sampled_from(["cat", "dog", ""]), scalars)})
coco = st.fixed_dictionaries({"images": st.lists(image, max_size=3), "annotations": st.lists(annotation, max_size=4),
                              "categories": st.lists(category, max_size=3)})  # fmt: skip


@FAST
@given(data=st.one_of(coco, values))
def test_coco_json_is_indexed_or_refused(coco_root, data):
    from baiseg.data import build_dataset

    (coco_root / "ann.json").write_text(json.dumps(data, allow_nan=True))
    (coco_root / "d.yaml").write_text("format: coco\nimages: img\nannotations: ann.json\n")
    for strict in (True, False):
        ds = works_or_one_line(build_dataset, coco_root / "d.yaml", strict=strict)
        for i in range(len(ds) if ds is not None else 0):
            s = works_or_one_line(ds.__getitem__, i)
            if s is not None and s.get("instances") is not None:
                m = s["instances"]["masks"]
                assert m.dtype == bool and m.shape[1:] == s["image"].shape[:2]


result = st.fixed_dictionaries({"image_id": ids, "category_id": ids, "score": st.one_of(st.floats(), scalars)},
                               optional={"segmentation": segmentation, "bbox": bbox})  # fmt: skip


@FAST
@given(data=st.one_of(st.lists(result, max_size=4), values))
def test_results_json_is_read_or_refused(tmp_path, data):
    from baiseg.evaluation.results import read_results

    p = tmp_path / "results.json"
    p.write_text(json.dumps(data, allow_nan=True))
    grouped = works_or_one_line(read_results, p)
    if grouped is not None:
        for entries in grouped.values():
            for e in entries:
                assert math.isfinite(float(e["score"]))


# ---------------------------------------------------------------------------------------------------------- images
DTYPES = ["uint8", "uint16", "int16", "int32", "float32", "float64", "bool"]


@st.composite
def image_file(draw):
    """(format, array): an array of a random dtype and channel count, and a format that can store it."""
    dtype = draw(st.sampled_from(DTYPES))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    channels = draw(st.sampled_from([0, 1, 2, 3, 4]))
    shape = (h, w) if channels == 0 else (h, w, channels)
    if dtype == "bool":
        arr = np.asarray(draw(st.lists(st.booleans(), min_size=h * w * max(channels, 1),
                                       max_size=h * w * max(channels, 1))), bool).reshape(shape)  # fmt: skip
    else:
        info = np.finfo(np.float32) if dtype.startswith("float") else np.iinfo(dtype)
        lo, hi = draw(st.sampled_from([(0, 1), (0, 255), (0, 4095), (0, 65535), (-1000, 1000), (info.min, info.max)]))
        lo, hi = float(max(lo, info.min)), float(min(hi, info.max))
        arr = lo + np.random.default_rng(draw(st.integers(0, 99))).random(size=shape) * (hi / 2 - lo / 2) * 2
        if dtype.startswith("float") and draw(st.booleans()):
            arr.flat[0] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        arr = arr.astype(dtype) if dtype.startswith("float") else np.clip(np.rint(arr), lo, hi).astype(dtype)
    fmt = draw(st.sampled_from(["tif", "png", "jpg", "npy-as-png"]))
    return fmt, arr


def _save(path: Path, fmt: str, arr: np.ndarray) -> bool:
    """Write ``arr`` as ``fmt`` when the format can hold it; False when it cannot (nothing to test then)."""
    import cv2
    import tifffile

    if fmt == "tif":
        tifffile.imwrite(path, arr)
        return True
    if fmt == "npy-as-png":  # not an image at all, with an image's name
        np.save(path.with_suffix(".npy"), arr)
        path.with_suffix(".npy").rename(path)
        return True
    ok_dtype = arr.dtype == np.uint8 or (fmt == "png" and arr.dtype == np.uint16)
    if not ok_dtype or (arr.ndim == 3 and arr.shape[2] == 2) or (fmt == "jpg" and arr.ndim == 3 and arr.shape[2] == 4):
        return False
    return bool(cv2.imwrite(str(path), arr))


@settings(FAST, max_examples=60)
@given(case=image_file())
def test_image_files_of_every_dtype_are_decoded_or_refused(tmp_path, case):
    from baiseg.data.io import read_image

    fmt, arr = case
    path = tmp_path / f"x.{'png' if fmt == 'npy-as-png' else fmt}"
    if not _save(path, fmt, arr):
        return
    rgb = works_or_one_line(read_image, path)
    if rgb is None:
        return
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.shape[:2] == arr.shape[:2]
    if fmt == "png" and arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3:
        assert np.array_equal(rgb, arr[..., ::-1])  # lossless: the very pixels (cv2 wrote BGR)
    if arr.dtype.kind in "iuf" and arr.size > 1 and np.isfinite(arr).all() and np.ptp(arr.astype(np.float64)) > 0:
        # never clipped to one value: an image with several values keeps several (the white TIFFs)
        assert np.ptp(rgb) > 0 or arr.dtype.kind == "f" and np.ptp(arr) < 1e-3 * max(np.abs(arr).max(), 1)
