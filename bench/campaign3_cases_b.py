"""Cases of the third campaign, second part: images, results and COCO JSON, weights, paths, values, kills."""

from __future__ import annotations

import json
import os
import signal
import struct
import time
import zlib
from pathlib import Path

import numpy as np

from bench.campaign3 import Case, baiseg
from bench.campaign3_cases import (
    LONG,
    P,
    _cv2,
    _pil,
    _tif,
    both,
    device_cases,
    fresh,
    has,
    img_case,
    out_cases,
    predict,  # fmt: skip
    wr,
    yaml_cases,
)
from bench.toy_onnx import toy_onnx

RNG = np.random.default_rng(5)
SCENE = np.full((48, 64, 3), 30, np.uint8)
SCENE[8:40, 8:30], SCENE[8:40, 34:58] = 200, 120


def _bomb_png(work: Path) -> None:
    """A 1 x 1 PNG whose header says 60000 x 60000."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(buf, "PNG")
    b = bytearray(buf.getvalue())
    ihdr = bytes(b[12:16]) + struct.pack(">II", 60000, 60000) + bytes(b[24:29])
    b[16:24] = ihdr[4:12]
    b[29:33] = struct.pack(">I", zlib.crc32(ihdr) & 0xFFFFFFFF)
    (work / "img").mkdir(exist_ok=True)
    (work / "img" / "bomb.png").write_bytes(bytes(b))


def image_cases() -> list[Case]:
    f = RNG.uniform(-500, 500, (48, 64)).astype(np.float64)
    return [
        img_case("I01", "16-bit RGBA PNG", _cv2("img/x.png", (np.dstack([SCENE] * 2)[..., :4].astype(np.uint16) * 257)),
                 "x.png"),
        img_case("I02", "float64 TIFF with values -500..500", _tif("img/x.tif", f), "x.tif"),
        img_case("I03", "TIFF with 5 channels", _tif("img/x.tif", np.dstack([SCENE, SCENE[..., :2]])), "x.tif"),
        img_case("I04", "int8 TIFF", _tif("img/x.tif", (SCENE[..., 0].astype(np.int16) - 128).astype(np.int8)),
                 "x.tif"),
        img_case("I05", "complex64 TIFF", _tif("img/x.tif", SCENE[..., 0].astype(np.complex64)), "x.tif"),
        img_case("I06", "3-page TIFF", _tif("img/x.tif", np.stack([SCENE[..., 0]] * 3)), "x.tif"),
        img_case("I07", "all-NaN float32 TIFF", _tif("img/x.tif", np.full((48, 64), np.nan, np.float32)), "x.tif",
                 "error"),
        img_case("I08", "1 x 1 PNG", _pil("img/x.png", np.zeros((1, 1, 3), np.uint8)), "x.png"),
        img_case("I09", "PNG whose header claims 60000 x 60000 (decompression bomb)", _bomb_png, "bomb.png", "error"),
        img_case("I10", "palette PNG with a transparent colour", _pil("img/x.png", SCENE, "P", transparency=0), "x.png",
                 "ok"),
        img_case("I11", "1-bit TIFF (bool)", _tif("img/x.tif", SCENE[..., 0] > 100), "x.tif"),
        img_case("I12", "uint32 TIFF up to 2^32 - 1", _tif("img/x.tif", SCENE[..., 0].astype(np.uint32) * 16843009),
                 "x.tif"),
        img_case("I13", "float16 TIFF", _tif("img/x.tif", SCENE.astype(np.float16) / 255), "x.tif"),
        img_case("I14", "JPEG with EXIF orientation 6", _exif_jpeg, "x.jpg", "ok"),
        img_case("I15", "WebP lossless", _pil("img/x.webp", SCENE, lossless=True), "x.webp", "ok"),
        img_case("I16", "BMP with alpha (32-bit)", _cv2("img/x.bmp", np.dstack([SCENE, SCENE[..., :1]])), "x.bmp",
                 "ok"),
        img_case("I17", "16-bit PGM", _cv2("img/x.pgm", SCENE[..., 0].astype(np.uint16) * 200), "x.pgm", "ok"),
        img_case("I18", "grayscale JPEG", _pil("img/x.jpg", SCENE, "L"), "x.jpg", "ok"),
        img_case("I19", "TIFF 3 x 48 x 64 planar RGB", _tif("img/x.tif", np.moveaxis(SCENE, 2, 0),
                                                           planarconfig="separate",
                                                           photometric="rgb"), "x.tif", "ok"),
        img_case("I20", "1 x 5000 PNG strip", _pil("img/x.png", np.full((1, 5000, 3), 99, np.uint8)), "x.png"),
        img_case("I21", "16-bit PNG holding only 0 and 1 (a mask as image)", _cv2("img/x.png", (SCENE[..., 0] > 100)
                                                                                  .astype(np.uint16)), "x.png"),
        _folder_case("I22", "a folder named d.png among the images", lambda w: (w / "img" / "d.png").mkdir(), 1),
        _folder_case("I23", "a broken symlink named b.png among the images",
                     lambda w: os.symlink(w / "nowhere.png", w / "img" / "b.png"), 1),
        _folder_case("I24", "a file name with a newline", _pil("img/a\nb.png", SCENE), 2),
        _folder_case("I25", "a file name starting with '-'", _pil("img/-x.png", SCENE), 2),
        _folder_case("I26", "an upper-case .PNG extension", _pil("img/UP.PNG", SCENE), 2),
        Case("I27", "image", "a folder holding only a hidden .a.png", predict("img", "i27"), "either",
             setup=both(fresh("img", "i27"), _pil("img/.a.png", SCENE))),
    ]


def _exif_jpeg(work: Path) -> None:
    from PIL import Image

    (work / "img").mkdir(exist_ok=True)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(SCENE).save(work / "img" / "x.jpg", exif=exif)


def _folder_case(cid: str, what: str, extra, n_ok: int) -> Case:
    out = f"out_{cid}"

    def check(work: Path, rc: int) -> str | None:
        if rc != 0:
            return None
        rows = json.loads((work / out / "skipped.json").read_text()) if (work / out / "skipped.json").is_file() else []
        done = len(list((work / out / "instances").glob("*.png")))
        return None if done + len(rows) >= n_ok else f"{done} images done, {len(rows)} skipped, {n_ok} expected"

    return Case(cid, "image", what, predict("img", out), "either",
                both(fresh("img", out), _pil("img/good.png", SCENE), extra), check)


# ---------------------------------------------------------------------------------------------- results / COCO JSON
def _mut_results(name: str, fn):
    def setup(work: Path) -> None:
        rows = [{**r, "category_id": 1} for r in json.loads((work / "pred0" / "results.json").read_text())]
        data = fn(rows)  # (the dataset's one class: every result of class 1)
        # an input, not a result (of the cases that read it)
        (work / name).write_text(data if isinstance(data, str) else json.dumps(data, allow_nan=True))

    return setup


def _each(key, value):
    return lambda rows: [{**r, key: value} for r in rows]


def results_cases() -> list[Case]:
    def ev(cid, what, fn, expect="error", raw: bytes | None = None):
        name = f"r_{cid}.json"
        setup = wr(name, raw) if raw is not None else _mut_results(name, fn)
        return Case(cid, "results", what, ["evaluate", "--data", "ds/good.yaml", "--predictions", name, "--out",
                                           f"ev_{cid}"], expect, both(fresh(f"ev_{cid}"), setup))  # fmt: skip

    def seg(fn):
        return lambda rows: [{**r, "segmentation": fn(r["segmentation"])} for r in rows]

    return [
        ev("J01", "score as a string '0.9'", _each("score", "0.9")),
        ev("J02", "score true (a bool)", _each("score", True)),
        ev("J03", "category_id as a string '1'", _each("category_id", "1")),
        ev("J04", "image_id as a file name string", _each("image_id", "a0.png")),
        ev("J05", "polygon with an odd number of coordinates", _each("segmentation", [[1, 2, 30, 2, 30]])),
        ev("J06", "uncompressed RLE with negative counts", seg(lambda s: {"size": s["size"], "counts": [5, -3, 9]})),
        ev("J07", "every entry twice (valid COCO)", lambda rows: rows + rows, "ok"),
        ev("J08", "score NaN written as the token NaN", _each("score", float("nan"))),
        ev("J09", "JSON nested 100000 levels deep", None, raw=b"[" * 100000 + b"]" * 100000),
        ev("J10", "a trailing comma", lambda rows: json.dumps(rows)[:-1] + ",]"),
        ev("J11", "results JSON in UTF-16", None, raw='[{"image_id": 1}]'.encode("utf-16")),
        ev("J12", "the JSON value null", None, raw=b"null"),
        ev("J13", "image_id 1.5", _each("image_id", 1.5)),
        ev("J14", "score 1e999 (overflows to infinity)", None, raw=b'[{"image_id": 0, "category_id": 1, "score": '
                                                                  b'1e999, "segmentation": [[1, 1, 9, 1, 9, 9]]}]'),
        ev("J15", "RLE counts ''", seg(lambda s: {"size": s["size"], "counts": ""})),
        ev("J16", "extra unknown keys in every entry", _each("note", "hello"), "ok"),
        ev("J17", "score 5.0 (above 1)", _each("score", 5.0), "either"),
        ev("J18", "polygon far outside the image", _each("segmentation", [[-100, -100, 1000, -100, 1000, 1000]]),
           "either"),
    ]


def _mut_coco(cid: str, fn, raw: bytes | None = None):
    def setup(work: Path) -> None:
        base = json.loads((work / "coco" / "ann.json").read_text())
        name = f"ann_{cid}.json"
        if raw is not None:
            (work / "coco" / name).write_bytes(raw)
        else:
            fn(base)
            (work / "coco" / name).write_text(json.dumps(base, allow_nan=True))  # an input, not a result
        (work / "coco" / f"d_{cid}.yaml").write_text(f"format: coco\nimages: img\nannotations: {name}\n")

    return setup


def coco_cases() -> list[Case]:
    def cc(cid, what, fn, expect="problem", raw=None):
        return Case(cid, "coco", what, ["data", "check", f"coco/d_{cid}.yaml"], expect, _mut_coco(cid, fn, raw))

    def ann(key, value):
        return lambda d: d["annotations"][0].__setitem__(key, value)

    def img(key, value):
        return lambda d: d["images"][0].__setitem__(key, value)

    return [
        cc("C01", "annotation of category 7 (not in categories)", ann("category_id", 7)),
        cc("C02", "image width / height not those of the file", img("width", 81)),
        cc("C03", "negative area", ann("area", -5), "either"),
        cc("C04", "iscrowd 1 with a polygon", ann("iscrowd", 1), "either"),
        cc("C05", "one file listed twice with two ids", lambda d: d["images"].append({**d["images"][0], "id": 99})),
        cc("C06", "annotation with a bbox and no segmentation", lambda d: d["annotations"][0].pop("segmentation")),
        cc("C07", "ids of 2^70", lambda d: [img("id", 2**70)(d), ann("image_id", 2**70)(d)], "either"),
        cc("C08", "categories empty", lambda d: d.__setitem__("categories", []), "error"),
        cc("C09", "file_name with a trailing space 'a0.png '", img("file_name", "a0.png ")),
        cc("C10", "file_name '../img/a0.png'", img("file_name", "../img/a0.png"), "either"),
        cc("C11", "iscrowd 'yes'", ann("iscrowd", "yes")),
        cc("C12", "polygon with NaN", ann("segmentation", [[1, 1, float("nan"), 1, 9, 9]])),
        cc("C13", "category_id 1.7", ann("category_id", 1.7)),
        cc("C14", "image id '1' (a string)", lambda d: [img("id", "1")(d)], "either"),
        cc("C15", "no 'annotations' key", lambda d: d.pop("annotations"), "error"),
        cc("C16", "0-byte annotation file", None, "error", b""),
        cc("C17", "two categories with one id", lambda d: d["categories"].append({"id": 1, "name": "other"}), "either"),
        cc("C18", "polygon of two points", ann("segmentation", [[1, 1, 9, 9]])),
    ]


# ----------------------------------------------------------------------------------------------------------- weights
def _st_meta(name: str, **changes: str):
    def setup(work: Path) -> None:
        from safetensors import safe_open
        from safetensors.torch import save_file

        with safe_open(str(work / "w.safetensors"), framework="pt") as f:
            meta = dict(f.metadata())
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        meta.update(changes)
        save_file(tensors, str(work / name), metadata=meta)

    return setup


def weights_cases() -> list[Case]:
    def pw(cid, what, weights, setup=None, expect="error", timeout=180):
        out = f"out_{cid}"
        return Case(cid, "weights", what, ["predict", "--weights", weights, "--input", "ds/good.yaml", "--out", out,
                                           *P], expect, both(fresh(out), setup or (lambda w: None)), has(out),
                    timeout=timeout)  # fmt: skip

    return [
        pw("W01", "ONNX: 2 class names, graph with 5 semantic channels", "w01.onnx",
           lambda w: toy_onnx(w / "w01.onnx", 5)),
        pw("W02", "ONNX without class_names", "w02.onnx", lambda w: toy_onnx(w / "w02.onnx", 3, {"class_names": None})),
        pw("W03", "ONNX with other output names", "w03.onnx",
           lambda w: toy_onnx(w / "w03.onnx", 3, outputs=("edges", "sem_logits"))),
        pw("W04", "ONNX input_norm with std 0", "w04.onnx",
           lambda w: toy_onnx(w / "w04.onnx", 3, {"input_norm": "[[0, 0, 0], [0, 1, 1]]"})),
        pw("W05", "a consistent hand-made ONNX graph", "good.onnx", expect="ok"),
        pw("W06", "safetensors with class_names []", "w06.safetensors", _st_meta("w06.safetensors", class_names="[]")),
        pw("W07", "--weights a folder named w.safetensors", "w07.safetensors",
           lambda w: (w / "w07.safetensors").mkdir(exist_ok=True)),
        pw("W08", "--weights with a 300-byte name", f"{LONG}.safetensors"),
        pw("W09", "--weights a FIFO", "w09.safetensors",
           lambda w: None if (w / "w09.safetensors").exists() else os.mkfifo(w / "w09.safetensors"), timeout=60),
        pw("W10", "ONNX category_ids [true, false]", "w10.onnx",
           lambda w: toy_onnx(w / "w10.onnx", 3, {"category_ids": "[true, false]"})),
        pw("W11", "safetensors category_ids of another length", "w11.safetensors",
           _st_meta("w11.safetensors", category_ids="[1]")),
        pw("W12", "ONNX whose stored config has 5 semantic outputs", "w12.onnx",
           lambda w: toy_onnx(w / "w12.onnx", 3, {"config": "model:\n  num_classes: 5\n"})),
        Case("W13", "weights", "pseudo --weights an ONNX file", ["pseudo", "--data", "syn_a.yaml", "--weights",
                                                                "good.onnx", "--out", "w13", *P], "either",
             fresh("w13")),  # fmt: skip
        Case("W14", "weights", "export --weights an ONNX file", ["export", "--weights", "good.onnx", "--out",
                                                                "w14/m.onnx"]),  # fmt: skip
        Case("W15", "weights", "evaluate --weights an inconsistent ONNX", ["evaluate", "--data", "syn_a.yaml",
                                                                          "--weights", "w01.onnx", "--out", "w15"]),
    ]


# ------------------------------------------------------------------------------------------------ paths and values
def path_cases() -> list[Case]:
    return [
        Case("P01", "path", "predict --input with a 300-byte name", predict(f"{LONG}.png", "p01")),
        Case("P02", "path", "data check of a 300-byte name", ["data", "check", f"{LONG}.yaml"]),
        Case("P03", "path", "evaluate --predictions with a 300-byte name", ["evaluate", "--data", "ds/good.yaml",
                                                                           "--predictions", f"{LONG}.json"]),
        Case("P04", "path", "pseudo --semantic a 300-byte folder name", ["pseudo", "--data", "syn_a.yaml", "--method",
                                                                        "cc", "--semantic", LONG, "--out", "p04", *P]),
        Case("P05", "path", "config of a 300-byte name", ["config", f"{LONG}.yaml"]),
        Case("P06", "path", "sweep --rows of a 300-byte name", ["sweep", "cpu_lite0", "--rows", f"{LONG}.yaml",
                                                               "--out", "p06", *P]),  # fmt: skip
        Case("P07", "path", "predict --input a FIFO named x.png", predict("fifo.png", "p07", "--on-error", "stop"),
             setup=lambda w: None if (w / "fifo.png").exists() else os.mkfifo(w / "fifo.png"), timeout=60),
        Case("P08", "path", "predict --input /dev/null", predict("/dev/null", "p08")),
        Case("P09", "path", "data check /dev/null", ["data", "check", "/dev/null"]),
        Case("P10", "path", "predict --semantic-dir a file", predict("ds/good.yaml", "p10", "--semantic-dir",
                                                                     "syn_a.yaml")),  # fmt: skip
        Case("P11", "path", "evaluate --data a folder", ["evaluate", "--data", "ds", "--method", "cc"]),
        Case("P12", "path", "train data.train a folder", ["train", "cpu_lite0", "data.train=ds", *P]),
        Case("P13", "path", "predict --input an image path with a trailing slash (read as the image)",
             predict("ds/images/a0.png/", "p13"), "either"),
        Case("P14", "path", "predict --input '~/x.png' (no shell to expand ~)", predict("~/nonexistent_x.png", "p14")),
        Case("P15", "path", "train --resume of a folder that is no run", ["train", "--resume", "ds"]),
    ]


def value_cases() -> list[Case]:
    t = ["train", "cpu_lite0", "data.train=syn_a.yaml", "train.out_dir=vx", *P]
    s = ["sweep", "cpu_lite0", "--out", "vs", *P]
    return [
        Case("X01", "value", "train.lr=nan", [*t, "train.lr=nan"]),
        Case("X02", "value", "train.batch_size=0", [*t, "train.batch_size=0"]),
        Case("X03", "value", "train.iters=0", [*t, "train.iters=0"]),
        Case("X04", "value", "data.train a missing YAML", ["train", "cpu_lite0", "data.train=/nonexistent.yaml", *P]),
        Case("X05", "value", "sweep --seeds a,b", [*s, "--grid", "train.iters=1", "--seeds", "a,b"]),
        Case("X06", "value", "sweep --grid train.lr= (no values)", [*s, "--grid", "train.lr="]),
        Case("X07", "value", "sweep --grid nokey=1,2", [*s, "--grid", "nokey=1,2"]),
        Case("X08", "value", "sweep --rows an empty file", [*s, "--rows", "empty_rows.yaml"],
             setup=wr("empty_rows.yaml", "")),
        Case("X09", "value", "evaluate --limit 10^12", ["evaluate", "--data", "syn_a.yaml", "--method", "cc", "--limit",
                                                       str(10**12), "--out", "x09"], "ok"),  # fmt: skip
        Case("X10", "value", "pseudo --score-thr nan", ["pseudo", "--data", "syn_a.yaml", "--method", "cc",
                                                       "--score-thr", "nan", "--out", "x10", *P]),  # fmt: skip
        Case("X11", "value", "predict --max-side -5", predict("ds/good.yaml", "x11", "--max-side", "-5")),
        Case("X12", "value", "predict --threads 100000", predict("ds/good.yaml", "x12", "--threads", "100000"),
             "either", fresh("x12"), has("x12")),
        Case("X13", "value", "export --opset 21", ["export", "--weights", "w.safetensors", "--out", "x13.onnx",
                                                  "--opset", "21"]),  # fmt: skip
        Case("X14", "value", "BAISEG_MAX_IMAGE_PIXELS=0 (documented: no bound)", predict("ds/good.yaml", "x14"),
             "either",
             env={
            "BAISEG_MAX_IMAGE_PIXELS": "0"}),
        Case("X15", "value", "predict --batch 100000", predict("ds/good.yaml", "x15", "--batch", "100000"), "ok",
             fresh("x15"), has("x15", 4)),
        Case("X16", "value", "evaluate --max-side 10", ["evaluate", "--data", "syn_a.yaml", "--weights",
                                                       "w.safetensors", "--max-side", "10"]),  # fmt: skip
        Case("X17", "value", "predict mep.boundary_thr=2", predict("ds/good.yaml", "x17", "mep.boundary_thr=2")),
        Case("X18", "value", "predict mep.min_area_px=-1", predict("ds/good.yaml", "x18", "mep.min_area_px=-1")),
        Case("X19", "value", "evaluate --limit 0.5", ["evaluate", "--data", "syn_a.yaml", "--method", "cc", "--limit",
                                                     "0.5"]),  # fmt: skip
        Case("X20", "value", "train.accum_steps=-1", [*t, "train.accum_steps=-1"]),
        Case("X21", "value", "predict mep.watershed_levels=0",
             predict("ds/good.yaml", "x21", "mep.watershed_levels=0")),
        Case("X22", "value", "pseudo --chunk 10^9 (one chunk)", ["pseudo", "--data", "syn_a.yaml", "--method", "cc",
                                                                "--chunk", str(10**9), "--out", "x22", *P], "ok",
             fresh("x22")),  # fmt: skip
    ]


# ------------------------------------------------------------------------------------------------------------ kills
def _concurrent_overwrite(work: Path) -> tuple[int, str]:
    """predict A on 40 images; while it writes, predict --overwrite B into the same folder (the issue's case)."""
    fresh("k1")(work)
    a = baiseg(work, predict("many", "k1"), background=True)
    while not (work / "k1" / ".lock").exists() and a.poll() is None:
        time.sleep(0.2)
    b = baiseg(work, predict("many", "k1", "--overwrite"))
    a.communicate(timeout=600)
    n = len(list((work / "k1" / "instances").glob("*.png")))
    return (b.returncode if a.returncode == 0 and n == 40 else 0), b.stderr + (
        "" if n == 40 else f"\nfirst predict: {n} of 40 instance PNGs")


def _kill_and_rerun(work: Path) -> tuple[int, str]:
    fresh("k2")(work)
    a = baiseg(work, predict("many", "k2"), background=True)
    while not (work / "k2" / "instances").is_dir() or len(list((work / "k2" / "instances").glob("*.png"))) < 5:
        time.sleep(0.2)
    a.send_signal(signal.SIGKILL)
    a.wait()
    r = baiseg(work, predict("many", "k2", "--overwrite"), timeout=900)  # 40 images: minutes on a loaded machine
    return r.returncode, r.stderr


def _kill_pseudo_then_other_data(work: Path) -> tuple[int, str]:
    fresh("k3")(work)
    argv = ["pseudo", "--data", "syn_a.yaml", "--method", "cc", "--chunk", "1", "--out", "k3", *P]
    a = baiseg(work, argv, background=True)
    while not list((work / "k3" / "chunks").glob("*.json")) and a.poll() is None:
        time.sleep(0.1)
    a.send_signal(signal.SIGKILL)
    a.wait()
    r = baiseg(work, [*argv[:2], "syn_b.yaml", *argv[3:]])
    return r.returncode, r.stderr


def kill_cases() -> list[Case]:
    return [
        Case("K01", "kill", "predict --overwrite while another predict writes the folder (40 images)",
             run=_concurrent_overwrite, argv=["predict ... --overwrite (concurrent)"]),
        Case("K02", "kill", "predict SIGKILLed after 5 images, rerun with --overwrite", expect="ok",
             run=_kill_and_rerun, check=has("k2", 40), argv=["predict ... (killed, rerun)"]),
        Case("K03", "kill", "pseudo SIGKILLed after its first chunk, rerun with another --data",
             run=_kill_pseudo_then_other_data, argv=["pseudo ... (killed, rerun on other data)"]),
    ]


def all_cases() -> list[Case]:
    return [*out_cases(), *yaml_cases(), *device_cases(), *image_cases(), *results_cases(), *coco_cases(),
            *weights_cases(), *path_cases(), *value_cases(), *kill_cases()]  # fmt: skip
