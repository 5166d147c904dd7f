"""Cases of the fourth campaign, second part: devices, input paths, output folders, the image decoder and the
Python API's image and semantic arrays."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from bench.campaign3 import Case
from bench.campaign3_cases import LONG, P, _pil, both, fresh, kept, predict, snap, wr
from bench.campaign4 import api
from bench.campaign4_cases import GOOD, _copy_imgs, _ds_variant, results_ids

SCENE = np.full((64, 80, 3), 30, np.uint8)
SCENE[8:36, 8:36], SCENE[8:36, 44:72] = 200, 120
G = SCENE[..., 0]


# ---------------------------------------------------------------------------------------------------- devices
def _arrays(inst) -> tuple[np.ndarray, np.ndarray]:
    """``(masks, classes)`` of ``predict_instances``' instances: an ``Instances`` (since 976f731) or the dict it was."""
    if isinstance(inst, dict):
        return np.asarray(inst["masks"]), np.asarray(inst["classes"])
    return np.asarray(inst.masks), np.asarray(inst.classes)


def _fp(device) -> callable:
    def fn(work: Path) -> str | None:
        from baiseg import Predictor

        p = Predictor.from_pretrained("w.safetensors", device=device)
        inst, _ = p.predict_instances(np.zeros((40, 40, 3), np.uint8))
        return None if _arrays(inst)[0].ndim == 3 else "no N x H x W masks"

    fn.__name__ = f"Predictor.from_pretrained(w, device={device!r})"
    return fn


def _fp_onnx_cuda(work: Path) -> str | None:
    from baiseg import Predictor

    Predictor.from_pretrained("good.onnx", device="cuda")
    return "an ONNX model accepted device='cuda' on a machine without a GPU"


def _torch_device(work: Path) -> str | None:
    import torch

    return _fp(torch.device("cpu"))(work)


def device_cases() -> list[Case]:
    return [
        api("V01", "device", "Predictor.from_pretrained(device='gpu')", _fp("gpu")),
        api("V02", "device", "Predictor.from_pretrained(device='cuda') without a GPU", _fp("cuda")),
        api("V03", "device", "Predictor.from_pretrained(device=torch.device('cpu'))", _torch_device, "ok"),
        api("V04", "device", "Predictor.from_pretrained(device=None)", _fp(None), "either"),
        Case("V05", "device", "predict --device '' (empty)", predict("ds/good.yaml", "v05", "--device", "")),
        Case("V06", "device", "train train.device=cuda:0 without a GPU (before any work)",
             ["train", "cpu_lite0", "data.train=syn_a.yaml", "train.device=cuda:0", "train.out_dir=vruns", *P]),
        api("V07", "device", "Predictor.from_pretrained('x.onnx', device='cuda') without a GPU", _fp_onnx_cuda),
        Case("V08", "device", "evaluate --device cuda:99", ["evaluate", "--data", "syn_a.yaml", "--weights",
                                                             "w.safetensors", "--device", "cuda:99", "--out", "v08"]),
        Case("V09", "device", "predict --device auto with CUDA_VISIBLE_DEVICES=garbage",
             predict("ds/good.yaml", "v09", "--device", "auto"), "ok", fresh("v09"),
             env={"CUDA_VISIBLE_DEVICES": "garbage"}),  # fmt: skip
    ]


# ------------------------------------------------------------------------------------------------------- paths
def _links(work: Path) -> None:
    d = work / "p_links"
    if d.exists():
        import shutil

        shutil.rmtree(d)
    d.mkdir()
    import shutil

    shutil.copy(work / "ds" / "images" / "a0.png", d / "a0.png")
    (d / "self").symlink_to(d)
    (d / "broken.png").symlink_to(d / "nowhere.png")


def path_cases() -> list[Case]:
    return [
        Case("P01", "path", "predict on a folder with a self-link and a broken x.png link", predict("p_links", "o_p01"),
             "either", both(fresh("o_p01"), _links), results_ids("o_p01", 1)),  # fmt: skip
        Case("P02", "path", "predict --input '-x.png' (a name starting with a dash)", predict("-x.png", "o_p02")),
        Case("P03", "path", "predict --input a folder named x.yaml", predict("p03.yaml", "o_p03"), "error",
             lambda w: (w / "p03.yaml").mkdir(exist_ok=True)),
        Case("P04", "path", "data show --out the dataset's own images folder (would its PNGs be replaced?)",
             ["data", "show", "ds_show/good.yaml", "--out", "ds_show/images"], "either",
             both(_ds_copy("ds_show"), remember("ds_show/images")), unchanged("ds_show/images")),  # fmt: skip
        Case("P05", "path", "pseudo --out the dataset's own masks folder", ["pseudo", "--data", "ds_ps/good.yaml",
             "--method", "cc", "--out", "ds_ps/masks", *P], "either", both(_ds_copy("ds_ps"), remember("ds_ps/masks")),
             unchanged("ds_ps/masks")),  # fmt: skip
        Case("P06", "path", "predict --input an image named '[a].png' (glob characters)", predict("p06/[a].png",
             "o_p06"), "ok", both(fresh("o_p06"), _copy_imgs("p06", ["[a].png"])), results_ids("o_p06", 1)),
        Case("P07", "path", "data check of a dataset YAML named .YAML in capitals", ["data", "check", "dsup/D.YAML"],
             "ok", _upper_yaml),
        Case("P08", "path", "data check: dataset images folder empty", ["data", "check", "dempty/d.yaml"], "error",
             _empty_images),
        Case("P09", "path", "predict --input a 300-byte name inside a folder that exists",
             predict(f"ds/{LONG}.png", "o_p09")),
        Case("P10", "path", "export --out a path whose folder is a 300-byte name",
             ["export", "--weights", "w.safetensors", "--out", f"{LONG}/m.onnx"]),
        Case("P11", "path", "evaluate --semantic a folder of maps named <id>_sem.png", ["evaluate", "--data",
             "ds/good.yaml", "--method", "cc", "--semantic", "p11", "--out", "o_p11"], "error",
             _copy_imgs("p11", ["a0_sem.png", "a1_sem.png"])),  # fmt: skip
    ]


_FILES: dict[str, dict[str, bytes]] = {}


def remember(rel: str):
    """A setup remembering the bytes of every file below ``rel``; ``unchanged(rel)`` checks that none of them was
    replaced or removed (files added beside them are allowed: the user chose that folder)."""

    def setup(work: Path) -> None:
        _FILES[rel] = {str(p.relative_to(work)): p.read_bytes() for p in (work / rel).rglob("*") if p.is_file()}

    return setup


def unchanged(rel: str):
    def check(work: Path, rc: int) -> str | None:
        lost = [k for k, v in _FILES.get(rel, {}).items() if not (work / k).is_file() or (work / k).read_bytes() != v]
        return f"{len(lost)} file(s) there replaced or removed (e.g. {lost[0]})" if lost else None

    return check


def _run_copy_o06(work: Path) -> None:
    import shutil

    if (work / "o_o06").exists():
        shutil.rmtree(work / "o_o06")
    shutil.copytree(work / "runs" / "r0-001", work / "o_o06")


def _ds_copy(name: str):
    def setup(work: Path) -> None:
        import shutil

        if (work / name).exists():
            shutil.rmtree(work / name)
        shutil.copytree(work / "ds", work / name)
        for p in (work / name).glob(".baiseg*"):
            p.unlink()

    return setup


def _upper_yaml(work: Path) -> None:
    _ds_variant("dsup", GOOD)(work)
    os.replace(work / "dsup" / "d.yaml", work / "dsup" / "D.YAML")


def _empty_images(work: Path) -> None:
    d = work / "dempty"
    (d / "images").mkdir(parents=True, exist_ok=True)
    (d / "masks").mkdir(exist_ok=True)
    (d / "d.yaml").write_text(GOOD)


# ------------------------------------------------------------------------------------------------ output folders
def _user_instances(work: Path) -> None:
    """o_o01: a user's folder holding their own 'instances' annotations (no baiseg stamp)."""
    d = work / "o_o01"
    (d / "instances").mkdir(parents=True, exist_ok=True)
    _pil("o_o01/instances/gt_a0.png", np.eye(8, dtype=np.uint8) * 255)(work)


def out_cases() -> list[Case]:
    return [
        Case("O01", "out", "predict --overwrite into a user's folder holding 'instances/' (not a predict run)",
             predict("ds/good.yaml", "o_o01", "--overwrite"), "error", both(_user_instances, snap("o_o01")),
             kept("o_o01")),  # fmt: skip
        Case("O02", "out", "predict --out where results.json is a folder (--overwrite)",
             predict("ds/good.yaml", "o_o02", "--overwrite"), "error",
             lambda w: (w / "o_o02" / "results.json").mkdir(parents=True, exist_ok=True)),
        Case("O03", "out", "predict --out where .lock is a folder", predict("ds/good.yaml", "o_o03"), "error",
             both(fresh("o_o03"), lambda w: (w / "o_o03" / ".lock").mkdir(parents=True))),
        Case("O04", "out", "predict --out whose .baiseg_out.json is garbage", predict("ds/good.yaml", "o_o04"),
             "ok", both(fresh("o_o04"), wr("o_o04/.baiseg_out.json", "{{{")), results_ids("o_o04", 4)),
        Case("O05", "out", "predict --out a folder stamped by pseudo (no outputs in it)",
             predict("ds/good.yaml", "o_o05"), "error",
             both(fresh("o_o05"), wr("o_o05/.baiseg_out.json", '{"command": "pseudo", "identity": {}}'))),
        Case("O06", "out", "predict --out a training run folder (a copy of one)", predict("ds/good.yaml", "o_o06"),
             "either", both(_run_copy_o06, snap("o_o06/checkpoint.pt")), kept("o_o06/checkpoint.pt")),
        Case("O07", "out", "sweep --out a predict run's folder", ["sweep", "cpu_lite0", "--grid", "train.iters=1",
                                                                 "--out", "pred0", *P]),
        Case("O08", "out", "data show --out a predict run's folder", ["data", "show", "ds/good.yaml", "--out",
                                                                     "pred0"]),
        Case("O09", "out", "predict --out a symlink to a folder another process holds",
             predict("ds/good.yaml", "o_o09_link"), "error",
             both(fresh("o_o09", "o_o09_link"), lambda w: [(w / "o_o09").mkdir(),
                                                           (w / "o_o09_link").symlink_to(w / "o_o09")]),
             hold=("o_o09", "predict")),  # fmt: skip
        Case("O10", "out", "evaluate --out the dataset folder itself", ["evaluate", "--data", "ds_ev/good.yaml",
             "--method", "cc", "--semantic", "gt", "--out", "ds_ev"], "either",
             both(_ds_copy("ds_ev"), remember("ds_ev")), unchanged("ds_ev")),  # fmt: skip
        Case("O11", "out", "export --out over the --weights file renamed .onnx (a symlink to it)",
             ["export", "--weights", "w_l.safetensors", "--out", "w_l.onnx", "--no-check"], "either",
             both(fresh("w_l.safetensors", "w_l.onnx"), _wl), _wl_kept),  # fmt: skip
    ]


def _wl(work: Path) -> None:
    import shutil

    shutil.copy(work / "w.safetensors", work / "w_l.safetensors")
    (work / "w_l.onnx").symlink_to(work / "w_l.safetensors")


def _wl_kept(work: Path, rc: int) -> str | None:
    from baiseg.weights_io import read_weights_meta

    try:
        read_weights_meta(work / "w_l.safetensors")
    except Exception as e:  # noqa: BLE001 - any failure means the weights were destroyed
        return f"the weights file was overwritten through the link ({e})"
    return None


# ------------------------------------------------------------------------------------------------------- images
def _decoded(arr: np.ndarray, writer: str, want: np.ndarray | None = None):
    """``read_image`` of ``arr`` saved by ``writer`` (tiff / png): wrong when the result is far from ``want``
    (default: SCENE)."""

    def fn(work: Path) -> str | None:
        from baiseg.data.io import read_image

        path = work / ("x4.tif" if writer == "tiff" else "x4.png")
        if writer == "tiff":
            import tifffile

            tifffile.imwrite(path, arr)
        else:
            import cv2

            cv2.imwrite(str(path), arr)
        got = read_image(path).astype(np.int32)
        ref = (SCENE if want is None else want).astype(np.int32)
        ref = np.repeat(ref[..., None], 3, axis=2) if ref.ndim == 2 else ref
        err = np.abs(got - ref).max()
        return None if err <= 3 else f"decoded with an error of {err} grey levels (mean {got.mean():.1f}, " \
                                     f"expected {ref.mean():.1f})"  # fmt: skip

    return fn


def _same_as_uint8(make, semantic=None):
    """``Predictor.predict_instances`` of ``make(SCENE)``: wrong unless it equals the result of SCENE itself."""

    def fn(work: Path) -> str | None:
        from baiseg import Predictor

        p = Predictor.from_pretrained("w.safetensors")
        ref, _ = p.predict_instances(SCENE)
        got, _ = p.predict_instances(make(SCENE))
        (gm, gc), (rm, rc) = _arrays(got), _arrays(ref)
        if not (np.array_equal(gm, rm) and np.array_equal(gc, rc)):
            return f"other instances ({len(gm)} masks) than the same image as uint8 gives ({len(rm)} masks)"
        return None

    return fn


def _ro(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.setflags(write=False)
    return a


def _flipped(work: Path) -> str | None:
    from baiseg import Predictor

    p = Predictor.from_pretrained("w.safetensors")
    ref, _ = p.predict_instances(np.ascontiguousarray(SCENE[:, ::-1]))
    got, _ = p.predict_instances(SCENE[:, ::-1])
    return None if np.array_equal(_arrays(ref)[0], _arrays(got)[0]) else "a non-contiguous view gives other masks"


def _pred(arr_fn, semantic_fn=None):
    def fn(work: Path) -> str | None:
        from baiseg import Predictor

        p = Predictor.from_pretrained("w.safetensors")
        inst, _ = p.predict_instances(arr_fn(), semantic=semantic_fn() if semantic_fn else None)
        return None if _arrays(inst)[0].ndim == 3 else "no N x H x W masks"

    return fn


def _bad_crc(work: Path) -> None:
    from PIL import Image

    (work / "img4").mkdir(exist_ok=True)
    Image.fromarray(SCENE).save(work / "img4" / "crc.png")
    b = bytearray((work / "img4" / "crc.png").read_bytes())
    b[-20] ^= 0xFF  # inside the last IDAT chunk or its CRC
    (work / "img4" / "crc.png").write_bytes(bytes(b))


def _trunc_jpeg(work: Path) -> None:
    from PIL import Image

    (work / "img4").mkdir(exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (256, 256, 3), np.uint8)).save(work / "img4" / "t.jpg")
    b = (work / "img4" / "t.jpg").read_bytes()
    (work / "img4" / "t.jpg").write_bytes(b[: len(b) // 2])


def image_cases() -> list[Case]:
    u = G.astype(np.float32) / 200.0  # one channel (Pillow opens one-channel float and int16 TIFFs only), max 1
    return [
        api("I01", "image", "float32 TIFF in [0.15, 1.01] (resampling overshoot)", _decoded(u * 1.01, "tiff",
                                                                                             u * 255), "either"),
        api("I02", "image", "float32 TIFF in [-0.01, 1]", _decoded(u - np.float32(0.16) * (u < 0.2), "tiff",
                                                                   np.clip(u, 0.2, 1) * 255), "either"),
        api("I03", "image", "16-bit PNG holding 8-bit values (0..255)", _decoded(SCENE[..., ::-1].astype(np.uint16),
                                                                                "png"), "ok"),  # fmt: skip
        api("I04", "image", "int16 TIFF with values -760..600 (shifted, then 12-bit)", _decoded(
            (G.astype(np.int16) * 8 - 1000), "tiff", (G.astype(np.float32) - 30) * 8 * 255 / 4095), "either"),
        api("I05", "image", "Predictor: uint16 array of 12-bit values (0..4095)",
            _same_as_uint8(lambda a: np.round(a * (4095 / 255)).astype(np.uint16)), "either"),  # fmt: skip
        api("I06", "image", "Predictor: float array in [0.15, 1.01] (0..1 with an overshoot)",
            _pred(lambda: SCENE / 200.0 * 1.01), "error"),  # fmt: skip
        api("I07", "image", "Predictor: int32 array of 12-bit values",
            _same_as_uint8(lambda a: a.astype(np.int32) * 16), "either"),
        api("I08", "image", "Predictor: float16 array in [0, 1]", _same_as_uint8(lambda a: (a / 255.0).astype(
            np.float16)), "either"),  # fmt: skip
        api("I09", "image", "Predictor: read-only array", _same_as_uint8(_ro), "ok"),
        api("I10", "image", "Predictor: a non-contiguous (flipped) view", _flipped, "ok"),
        api("I11", "image", "Predictor: H x W x 1 array", _same_as_uint8(lambda a: a[..., :1].repeat(1, 2)), "either"),
        api("I12", "image", "Predictor: a torch uint8 tensor", _same_as_uint8(lambda a: __import__("torch").from_numpy(
            a.copy())), "either"),  # fmt: skip
        api("I13", "image", "Predictor: a PIL image", _same_as_uint8(lambda a: __import__("PIL.Image").Image.fromarray(
            a)), "either"),  # fmt: skip
        api("I14", "image", "Predictor: a 3 x H x W (channels first) array", _pred(lambda: SCENE.transpose(2, 0, 1))),
        api("I15", "image", "Predictor: a 1 x 100000 strip", _pred(lambda: np.full((1, 100000, 3), 90, np.uint8)),
            "either"),
        api("I16", "image", "Predictor: an int64 semantic map of 2^40", _pred(lambda: SCENE, lambda: np.full(
            (64, 80), 2**40))),  # fmt: skip
        api("I17", "image", "Predictor: a semantic map of integral floats 1.0", _pred(lambda: SCENE, lambda: np.ones(
            (64, 80))), "either"),  # fmt: skip
        api("I18", "image", "Predictor: a path to a text file", _pred(lambda: "syn_a.yaml")),
        Case("I19", "image", "predict: a PNG with a broken CRC", predict("img4/crc.png", "o_i19", "--on-error", "stop"),
             "error", both(fresh("o_i19"), _bad_crc)),
        Case("I20", "image", "predict: a JPEG cut in the middle", predict("img4/t.jpg", "o_i20", "--on-error", "stop"),
             "error", both(fresh("o_i20"), _trunc_jpeg)),
    ]
