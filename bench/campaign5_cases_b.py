"""Cases of the fifth campaign (``bench/campaign5.py``), part 2: the Python API beyond campaign 4 (``Predictor.predict``
with odd semantic maps, ``with_mep``, ``Instances``, ``coco_results``, ``build_dataset`` with odd ``list`` files,
``load_config`` of odd preset names) and odd dataset files (COCO, instance PNGs, instance folders, VOC palettes)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from bench.campaign3 import Case
from bench.campaign4 import api

SCENE = np.full((64, 80, 3), 30, np.uint8)
SCENE[8:36, 8:36], SCENE[8:36, 44:72] = 200, 120
SEM = np.zeros((64, 80), np.uint8)
SEM[8:36, 8:36] = SEM[8:36, 44:72] = 1


def _pred():
    from baiseg import Predictor

    return Predictor.from_pretrained("w.safetensors")


def _key(inst) -> list:
    return sorted((int(i.class_id), int(i.mask.sum())) for i in inst)


def _sem(make, same: bool = True):
    """``predict`` with the semantic map ``make()``: refused, or (``same``) the instances of the uint8 map."""

    def fn(work: Path) -> str | None:
        p = _pred()
        got = p.predict(SCENE, semantic=make())
        if not same:
            return f"accepted: {len(got)} instances"
        want = p.predict(SCENE, semantic=SEM)
        return None if _key(got) == _key(want) else f"other instances than the uint8 map gives: {_key(got)[:3]}"

    return fn


def _with_mep(**changes):
    def fn(work: Path) -> str | None:
        q = _pred().with_mep(**changes)
        return f"accepted: mep {[(k, getattr(q.mep, k)) for k in changes]}"

    return fn


def _mep_text(work: Path) -> str | None:
    v = _pred().with_mep(boundary_thr="0.5").mep.boundary_thr
    return None if v == 0.5 and isinstance(v, float) else f"boundary_thr became {v!r}"


def _inst(masks, classes, scores):
    def fn(work: Path) -> str | None:
        from baiseg.instances import Instances

        i = Instances(masks, classes, scores)
        return f"accepted: classes {i.classes.tolist()}, scores {i.scores.tolist()}, masks {i.masks.shape}"

    return fn


def _inst_score5(work: Path) -> str | None:
    from baiseg.instances import Instances

    s = Instances(np.ones((1, 4, 4)), [1], [5.0]).scores.tolist()
    return None if s == [5.0] else f"score became {s}"


def _sel(keep) -> str:
    return f"accepted: classes {_good_inst().select(keep).classes.tolist()}"


def _inst_empty():
    from baiseg.instances import Instances

    return Instances.empty(-1, 3).masks.shape


def _fp_bogus(work: Path) -> str | None:
    from baiseg import Predictor

    Predictor.from_pretrained("w.safetensors", bogus=1)
    return "accepted an unknown option"


def _good_inst():
    from baiseg.instances import Instances

    m = np.zeros((2, 8, 8), bool)
    m[0, :4], m[1, 4:] = True, True
    return Instances(m, np.array([1, 2]), np.array([0.9, 0.8], np.float32))


def _resize(h, w):
    def fn(work: Path) -> str | None:
        r = _good_inst().resize(h, w)
        return f"accepted: masks {r.masks.shape}"

    return fn


def _coco(cats, classes=None):
    def fn(work: Path) -> str | None:
        from baiseg.instances import Instances, coco_results

        i = _good_inst()
        if classes is not None:
            i = Instances(i.masks, np.array(classes), i.scores)
        out = coco_results(i, "a", cats)
        return f"accepted: category ids {[r['category_id'] for r in out]}"

    return fn


def _listed(ids: str, n_want: int | None):
    """``build_dataset`` of ds with a ``list`` file; wrong unless refused or (``n_want``) that many images."""

    def fn(work: Path) -> str | None:
        from baiseg.data import build_dataset

        (work / "ds" / "l5.txt").write_text(ids)
        (work / "ds" / "l5.yaml").write_text("format: instance_png\nimages: images\nmasks: masks\nclasses: [c1]\n"
                                             "list: l5.txt\n")  # fmt: skip
        ds = build_dataset(work / "ds" / "l5.yaml")
        got = [ds[i]["image_id"] for i in range(len(ds))]
        return None if n_want == len(got) else f"accepted: images {got}"

    return fn


def _config(name: str):
    def fn(work: Path) -> str | None:
        from baiseg.config import load_config, resolve_preset

        cfg = load_config(resolve_preset(name))
        return None if cfg.model.backbone == "tf_efficientnet_lite0" else f"another config: {cfg.model.backbone}"

    return fn


def _split_arg(split):
    def fn(work: Path) -> str | None:
        from baiseg.data import build_dataset

        ds = build_dataset(work / "ds" / "good.yaml", split=split)
        return f"accepted split {split!r}: {len(ds)} images"

    return fn


def api_cases() -> list[Case]:
    h, w = SEM.shape
    f = SEM.astype(np.float64)
    return [
        api("A01", "api-sem", "predict semantic float64 with 1.5", _sem(lambda: f * 1.5, False)),
        api("A02", "api-sem", "predict semantic H x W x 1", _sem(lambda: SEM[..., None]), "either"),
        api("A03", "api-sem", "predict semantic of another size (32 x 40)", _sem(lambda: SEM[::2, ::2], False)),
        api("A04", "api-sem", "predict semantic bool", _sem(lambda: SEM.astype(bool)), "either"),
        api("A05", "api-sem", "predict semantic int64 with -1 (wraps to void 255)",
            _sem(lambda: np.where(SEM > 0, 1, -1).astype(np.int64), False)),
        api("A06", "api-sem", "predict semantic 3 x H x W", _sem(lambda: np.stack([SEM] * 3), False)),
        api("A07", "api-sem", "predict semantic list of lists", _sem(lambda: SEM.tolist()), "either"),
        api("A08", "api-sem", "predict semantic float with NaN", _sem(lambda: np.where(SEM > 0, 1.0, np.nan), False)),
        api("A09", "api-sem", "predict semantic 0-d array", _sem(lambda: np.uint8(1), False)),
        api("A10", "api-sem", "predict semantic float 1.0 everywhere inside (exact ints)", _sem(lambda: f), "either"),
        api("A11", "api-sem", "predict_instances semantic uint16 with 257 (wraps to 1)",
            _sem(lambda: (SEM.astype(np.uint16) * 257), False)),
        api("W01", "api-mep", "with_mep(boundary_thr=nan)", _with_mep(boundary_thr=float("nan"))),
        api("W02", "api-mep", "with_mep(boundary_thr='0.5') (the text of a number, as an override)",
            _mep_text, "either"),
        api("W03", "api-mep", "with_mep(nonsense=1)", _with_mep(nonsense=1)),
        api("W04", "api-mep", "with_mep(min_area_px=-5)", _with_mep(min_area_px=-5)),
        api("W05", "api-mep", "with_mep(watershed=2)", _with_mep(watershed=2)),
        api("W06", "api-mep", "with_mep(close_px=2.5)", _with_mep(close_px=2.5)),
        api("W07", "api-mep", "with_mep(marker_source=None)", _with_mep(marker_source=None)),
        api("N01", "api-inst", "Instances with N mismatch", _inst(np.zeros((2, 4, 4)), [1], [0.5])),
        api("N02", "api-inst", "Instances with 2-D masks", _inst(np.zeros((4, 4)), [1], [0.5])),
        api("N03", "api-inst", "Instances with a NaN score", _inst(np.ones((1, 4, 4)), [1], [float("nan")])),
        api("N04", "api-inst", "Instances with score 5.0 (a results file may hold any finite score)",
            _inst_score5, "either"),
        api("N05", "api-inst", "Instances with class 1.7 (read as 1)", _inst(np.ones((1, 4, 4)), [1.7], [0.5])),
        api("N06", "api-inst", "Instances with class 0", _inst(np.ones((1, 4, 4)), [0], [0.5])),
        api("N07", "api-inst", "Instances.resize(0, 5)", _resize(0, 5)),
        api("N08", "api-inst", "Instances.resize(-3, 5)", _resize(-3, 5)),
        api("N09", "api-inst", "coco_results with category_ids too short", _coco([7])),
        api("N10", "api-inst", "coco_results of class 0 with category_ids (index -1)", _coco([7, 9], [0, 1])),
        api("N11", "api-inst", "Instances with masks of values 0.3 (read as True)", _inst(np.full((1, 4, 4), 0.3),
                                                                                          [1], [0.5])),
        api("N12", "api-inst", "Instances with class 2**40", _inst(np.ones((1, 4, 4)), [2**40], [0.5])),
        api("N13", "api-inst", "Instances.select([5]) of 2 instances", lambda w: _sel([5])),
        api("N14", "api-inst", "Instances.select([0.5]) (read as instance 0)", lambda w: _sel([0.5])),
        api("N15", "api-inst", "Instances.empty(-1, 3)", lambda w: f"accepted: {_inst_empty()}"),
        api("F01", "api-pred", "Predictor.from_pretrained(weights, bogus=1)", _fp_bogus),
        api("B01", "api-data", "build_dataset with a list naming one id twice", _listed("a0\na0\na1\n", 2),
            "either"),
        api("B02", "api-data", "build_dataset with a list naming an id not in the folder", _listed("a0\nzz\n", None)),
        api("B03", "api-data", "build_dataset with an empty list file", _listed("# nothing\n", None)),
        api("B04", "api-data", "build_dataset(split=['a0', 'a1'])", _split_arg(["a0", "a1"])),
        api("B05", "api-data", "build_dataset(split=5)", _split_arg(5)),
        api("C01", "api-config", "load_config(resolve_preset('CPU_LITE0'))", _config("CPU_LITE0"), "either"),
        api("C02", "api-config", "load_config(resolve_preset('Cpu_Lite0.yaml'))", _config("Cpu_Lite0.yaml"), "either"),
        api("C03", "api-config", "load_config(resolve_preset(' cpu_lite0'))", _config(" cpu_lite0"), "either"),
    ]  # fmt: skip


# ------------------------------------------------------------------------------------------------------ data files
def _coco_variant(cid: str, fn):
    def setup(work: Path) -> None:
        d = work / "coco"
        data = json.loads((d / "ann.json").read_text())
        fn(data)
        (d / f"ann5_{cid}.json").write_text(json.dumps(data))  # an input, not a result
        (d / f"d5_{cid}.yaml").write_text(f"format: coco\nimages: img\nannotations: ann5_{cid}.json\n")

    return setup


def _set(path: list, value):
    def fn(data: dict) -> None:
        o = data
        for k in path[:-1]:
            o = o[k]
        o[path[-1]] = value

    return fn


def coco_cases() -> list[Case]:
    nan_poly = [[1.0, 1.0, float("nan"), 5.0, 9.0, 9.0, 1.0, 9.0]]
    rle = {"size": [32, 40], "counts": "0" + "1" * 4}

    def case(cid, what, fn, expect="problem"):
        return Case(cid, "coco", what, ["data", "check", f"coco/d5_{cid}.yaml"], expect, _coco_variant(cid, fn))

    return [
        case("K01", "COCO image of width 0", _set(["images", 0, "width"], 0)),
        case("K02", "COCO image of height -64", _set(["images", 0, "height"], -64)),
        case("K03", "COCO polygon of 2 points", _set(["annotations", 0, "segmentation"], [[1.0, 1.0, 9.0, 9.0]])),
        case("K04", "COCO polygon with NaN", _set(["annotations", 0, "segmentation"], nan_poly)),
        case("K05", "COCO RLE of another size than the image", _set(["annotations", 0, "segmentation"], rle)),
        case("K06", "COCO polygon with a coordinate as a string", _set(["annotations", 0, "segmentation"],
                                                                        [[1, 1, "9", 1, 9, 9, 1, 9]])),
        case("K07", "COCO polygon far outside the image", _set(["annotations", 0, "segmentation"],
                                                               [[1000.0, 1000, 1100, 1000, 1100, 1100, 1000, 1100]])),
        case("K08", "COCO image width as a float 80.5", _set(["images", 0, "width"], 80.5)),
        case("K09", "COCO empty segmentation list", _set(["annotations", 0, "segmentation"], [])),
        case("K10", "COCO bbox of negative size", _set(["annotations", 0, "bbox"], [1, 1, -5, -5]), "either"),
    ]  # fmt: skip


def _ds_with_mask(cid: str, write):
    def setup(work: Path) -> None:
        d = work / f"d5_{cid}"
        if d.exists():
            shutil.rmtree(d)
        shutil.copytree(work / "ds", d)
        write(d)

    return setup


def _u32_tiff(d: Path) -> None:
    import tifffile
    from PIL import Image

    ids = np.asarray(Image.open(d / "masks" / "a0.png")).astype(np.uint32)
    ids[ids == 2] = 70000
    (d / "masks" / "a0.png").unlink()
    tifffile.imwrite(d / "masks" / "a0.png", ids)


def _folders(empty: bool):
    def write(d: Path) -> None:
        from PIL import Image

        root = d / "f"
        for i in range(2):
            img = np.asarray(Image.open(d / "images" / f"a{i}.png"))
            (root / f"a{i}" / "images").mkdir(parents=True)
            (root / f"a{i}" / "masks").mkdir()
            Image.fromarray(img).save(root / f"a{i}" / "images" / f"a{i}.png")
            m = np.zeros(img.shape[:2], np.uint8)
            m[8:36, 8:36] = 255
            Image.fromarray(m).save(root / f"a{i}" / "masks" / "m0.png")
            bad = np.zeros(img.shape[:2] if empty else (20, 20), np.uint8)
            if not empty:
                bad[2:10, 2:10] = 255
            Image.fromarray(bad).save(root / f"a{i}" / "masks" / "m1.png")
        (d / "f.yaml").write_text("format: instance_folders\nroot: f\nclasses: [c1]\n")

    return write


def _voc(palette_kind: str):
    def write(d: Path) -> None:
        from PIL import Image

        root = d / "voc"
        for sub in ("JPEGImages", "SegmentationClass", "SegmentationObject", "ImageSets/Segmentation"):
            (root / sub).mkdir(parents=True)
        for i in range(2):
            Image.open(d / "images" / f"a{i}.png").convert("RGB").save(root / "JPEGImages" / f"a{i}.jpg")
            ids = np.asarray(Image.open(d / "masks" / f"a{i}.png"))
            for sub, arr in (("SegmentationClass", (ids > 0).astype(np.uint8)), ("SegmentationObject", ids)):
                im = Image.fromarray(arr, "P")
                pal = list(range(256)) * 3 if palette_kind == "gray" else [0, 0, 0] * 256
                if palette_kind == "short":
                    pal = [0, 0, 0, 128, 0, 0]
                im.putpalette(pal)
                im.save(root / sub / f"a{i}.png")
        (root / "ImageSets/Segmentation/val.txt").write_text("a0\na1\n")
        (d / "v.yaml").write_text("format: voc\nroot: voc\nsplit: val\n")

    return write


def _twice_list(d: Path) -> None:
    (d / "l.txt").write_text("a0\na0\n")
    (d / "good.yaml").write_text("format: instance_png\nimages: images\nmasks: masks\nclasses: [c1]\nlist: l.txt\n")


def data_cases() -> list[Case]:
    return [
        *coco_cases(),
        Case("D01", "data", "instance_png mask (uint32 TIFF) with id 70000", ["data", "check", "d5_D01/good.yaml"],
             "either", _ds_with_mask("D01", _u32_tiff)),
        Case("D02", "data", "instance_folders with an empty mask file", ["data", "check", "d5_D02/f.yaml"], "problem",
             _ds_with_mask("D02", _folders(True))),
        Case("D03", "data", "instance_folders with a mask of another size", ["data", "check", "d5_D03/f.yaml"],
             "problem", _ds_with_mask("D03", _folders(False))),
        Case("D04", "data", "VOC palette PNGs with a gray palette", ["data", "check", "d5_D04/v.yaml"], "either",
             _ds_with_mask("D04", _voc("gray"))),
        Case("D05", "data", "VOC palette PNGs with a 2-colour palette", ["data", "check", "d5_D05/v.yaml"], "either",
             _ds_with_mask("D05", _voc("short"))),
        Case("D06", "data", "data show --n 0", ["data", "show", "ds/good.yaml", "--n", "0", "--out", "d06"]),
        Case("D07", "data", "data show --n -1", ["data", "show", "ds/good.yaml", "--n", "-1", "--out", "d07"]),
        Case("D08", "data", "data show --width-px 0", ["data", "show", "ds/good.yaml", "--width-px", "0", "--out",
                                                      "d08"]),
        Case("D09", "data", "data show --void-fill-px -1", ["data", "show", "ds/good.yaml", "--void-fill-px", "-1",
                                                           "--out", "d09"]),
        Case("D10", "data", "data check --split on an instance_png set", ["data", "check", "ds/good.yaml", "--split",
                                                                         "nosuch"]),
        Case("D11", "data", "data show --width-px 100000", ["data", "show", "ds/good.yaml", "--width-px", "100000",
                                                           "--out", "d11"]),
        Case("D12", "data", "data check of a list file naming ids twice", ["data", "check", "d5_D12/good.yaml"],
             "problem", _ds_with_mask("D12", _twice_list)),
    ]  # fmt: skip
