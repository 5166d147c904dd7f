"""The cases of the fourth bad-input campaign (``bench/campaign4.py``), first part: image ids, YAML and config values,
devices, paths and output folders. None of them is in docs/HARDENING.md's tables or in campaign 3.

Kinds (the nine causes of issue 21, plus the output folders): ``ids``, ``resume``, ``concurrency``, ``image``,
``yaml``, ``device``, ``path``, ``other`` (the other path of an existing check: the Python API, the evaluators,
results JSON, weights metadata), ``ckernel``, ``value`` (numbers and options), ``out``.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.campaign3 import Case
from bench.campaign3_cases import P, both, fresh, predict, wr
from bench.campaign4 import api

GOOD = "format: instance_png\nimages: images\nmasks: masks\nclasses: [c1]\n"


def results_ids(rel: str, n: int):
    """Output check: ``rel/results.json`` names ``n`` distinct image ids."""

    def check(work: Path, rc: int) -> str | None:
        if rc != 0:
            return None
        p = work / rel / "results.json"
        if not p.is_file():
            return f"exit 0 without {rel}/results.json"
        ids = {r["image_id"] for r in json.loads(p.read_text())}
        return None if len(ids) == n else f"results.json names {len(ids)} image ids ({sorted(map(str, ids))[:4]}), " \
                                          f"not {n}"  # fmt: skip

    return check


def _copy_imgs(folder: str, names: list[str]):
    """A setup: ``folder`` holding copies of ds/images/a0.png, a1.png ... under ``names``."""

    def setup(work: Path) -> None:
        import shutil

        d = work / folder
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        for i, n in enumerate(names):
            shutil.copy(work / "ds" / "images" / f"a{i % 4}.png", d / n)

    return setup


def _ds_variant(name: str, yaml_text: str, files: dict[str, str | bytes] | None = None):
    """A setup: folder ``name`` with ds's images and masks (symlinked) and ``d.yaml`` = ``yaml_text`` (+ files)."""

    def setup(work: Path) -> None:
        d = work / name
        d.mkdir(exist_ok=True)
        for sub in ("images", "masks"):
            if not (d / sub).exists():
                (d / sub).symlink_to(work / "ds" / sub)
        (d / "d.yaml").write_text(yaml_text)
        for rel, data in (files or {}).items():
            (d / rel).write_bytes(data) if isinstance(data, bytes) else (d / rel).write_text(data)

    return setup


def check_ds(cid: str, what: str, yaml_text: str, files: dict[str, str | bytes] | None = None,
             expect: str = "problem", kind: str = "ids") -> Case:  # fmt: skip
    return Case(cid, kind, what, ["data", "check", f"dv_{cid}/d.yaml"], expect,
                _ds_variant(f"dv_{cid}", yaml_text, files))  # fmt: skip


# ----------------------------------------------------------------------------------------------------------- ids
def _coco_mut(cid: str, fn):
    def setup(work: Path) -> None:
        base = json.loads((work / "coco" / "ann.json").read_text())
        fn(base)
        (work / "coco" / f"ann4_{cid}.json").write_text(json.dumps(base))  # an input, not a result
        (work / "coco" / f"d4_{cid}.yaml").write_text(f"format: coco\nimages: img\nannotations: ann4_{cid}.json\n")

    return setup


def _dup_ann_id_kept(work: Path) -> str | None:
    from baiseg.data import build_dataset

    def dup(d: dict) -> None:
        d["annotations"][1]["id"] = d["annotations"][0]["id"]

    _coco_mut("D08", dup)(work)
    ds = build_dataset(work / "coco" / "d4_D08.yaml")
    n = sum(len(ds[i]["instances"]["classes"]) for i in range(len(ds)))
    return None if n == 8 else f"{n} instances, not 8 (an annotation was dropped)"


def id_cases() -> list[Case]:
    def coco(cid, what, fn, expect="problem"):
        return Case(cid, "ids", what, ["data", "check", f"coco/d4_{cid}.yaml"], expect, _coco_mut(cid, fn))

    return [
        Case("D01", "ids", "predict on a folder with a.png and A.png (ids differ in case only)",
             predict("d01", "o_d01"), "either", both(fresh("o_d01"), _copy_imgs("d01", ["a.png", "A.png"])),
             results_ids("o_d01", 2)),  # fmt: skip
        Case("D02", "ids", "predict on a folder with 'a.png' and ' a.png' (a leading space)",
             predict("d02", "o_d02"), "either", both(fresh("o_d02"), _copy_imgs("d02", ["a.png", " a.png"])),
             results_ids("o_d02", 2)),  # fmt: skip
        Case("D03", "ids", "predict on a folder with a file name holding a newline",
             predict("d03", "o_d03"), "either", both(fresh("o_d03"), _copy_imgs("d03", ["a\nb.png", "c.png"])),
             results_ids("o_d03", 2)),  # fmt: skip
        Case("D04", "ids", "predict on a folder with a.png and a.png.png",
             predict("d04", "o_d04"), "either", both(fresh("o_d04"), _copy_imgs("d04", ["a.png", "a.png.png"])),
             results_ids("o_d04", 2)),  # fmt: skip
        Case("D05", "ids", "predict on a folder with x.png and x.PNG (one id)", predict("d05", "o_d05"), "error",
             both(fresh("o_d05"), _copy_imgs("d05", ["x.png", "x.PNG"]))),
        check_ds("D06", "list file naming a0 and a0.png (one id twice)", GOOD + "list: ids.txt\n",
                 {"ids.txt": "a0\na0.png\na1\n"}),  # fmt: skip
        check_ds("D07", "list file with tabs, comments and CRLF line ends", GOOD + "list: ids.txt\n",
                 {"ids.txt": "a0\t# first\r\n\r\na1  \r\n"}, "ok"),  # fmt: skip
        api("D08", "ids", "COCO: two annotations with one annotation id (both kept?)", _dup_ann_id_kept, "either"),
        coco("D09", "image id true (a JSON bool)", lambda d: [d["images"][0].__setitem__("id", True),
                                                               d["annotations"][0].__setitem__("image_id", True)]),
        coco("D10", "annotation of an image id that is not listed", lambda d: d["annotations"][0].__setitem__(
            "image_id", 77)),  # fmt: skip
        coco("D11", "one file listed as 'a0.png' and './a0.png'", lambda d: d["images"].append(
            {**d["images"][0], "id": 50, "file_name": "./a0.png"})),  # fmt: skip
        coco("D12", "category id 0 (COCO ids start at 1; 0 is background here)", lambda d: [
            d["categories"].__setitem__(0, {"id": 0, "name": "c1"}),
            [a.__setitem__("category_id", 0) for a in d["annotations"]]], "either"),
        check_ds("D13", "classes_file giving one instance two classes", "format: instance_png\nimages: images\n"
                 "masks: masks\nclasses: [c1, c2]\nclasses_file: cls.txt\n",
                 {"cls.txt": "".join(f"a{i} 1 c1\na{i} 2 c2\n" for i in range(4)) + "a0 1 c2\n"}),
        check_ds("D14", "classes_file naming instance 1 as '1' and '01'", "format: instance_png\nimages: images\n"
                 "masks: masks\nclasses: [c1, c2]\nclasses_file: cls.txt\n",
                 {"cls.txt": "".join(f"a{i} 1 c1\na{i} 2 c2\n" for i in range(4)) + "a1 01 c2\n"}),
        check_ds("D15", "classes_file with lines of stems not in the dataset (typo a9)", "format: instance_png\n"
                 "images: images\nmasks: masks\nclasses: [c1, c2]\nclasses_file: cls.txt\n",
                 {"cls.txt": "".join(f"a{i} 1 c1\na{i} 2 c2\n" for i in range(4)) + "a9 1 c2\n"}, "either"),
        api("D16", "ids", "build_dataset twice on one YAML: same ids in the same order", _same_order, "ok"),
    ]


def _same_order(work: Path) -> str | None:
    from baiseg.data import build_dataset

    a = [build_dataset("ds/good.yaml")[i]["image_id"] for i in range(4)]
    b = [build_dataset("ds/good.yaml")[i]["image_id"] for i in range(4)]
    return None if a == b else f"ids {a} then {b}"


# ---------------------------------------------------------------------------------------------- YAML and configs
def _cfg(overrides: list[str], key: str, want) -> callable:
    def fn(work: Path) -> str | None:
        from baiseg.config import load_config, resolve_preset

        cfg = load_config(resolve_preset("cpu_lite0"), overrides)
        section, name = key.split(".")
        got = getattr(getattr(cfg, section), name)
        return None if got == want and type(got) is type(want) else f"{key} = {got!r}, not {want!r}"

    fn.__name__ = "load_config " + " ".join(overrides)
    return fn


def _cfg_file(text: str, key: str, want) -> callable:
    def fn(work: Path) -> str | None:
        from baiseg.config import load_config

        (work / "cfg4.yaml").write_text(text)
        cfg = load_config(work / "cfg4.yaml")
        section, name = key.split(".")
        got = getattr(getattr(cfg, section), name)
        return None if got == want and type(got) is type(want) else f"{key} = {got!r}, not {want!r}"

    fn.__name__ = "load_config " + text.replace("\n", " ")[:40]
    return fn


def yaml_cases() -> list[Case]:
    cfg = ["config", "cpu_lite0"]
    return [
        api("Y01", "yaml", "override train.name=null (the run would be named 'None')",
            _cfg(["train.name=null"], "train.name", "null"), "either"),  # fmt: skip
        api("Y02", "yaml", "override train.out_dir=~ (YAML null: runs into ./None)",
            _cfg(["train.out_dir=~"], "train.out_dir", "~"), "either"),  # fmt: skip
        api("Y03", "yaml", "override train.name=12:30 (a YAML 1.1 base-60 integer: 750)",
            _cfg(["train.name=12:30"], "train.name", "12:30"), "either"),  # fmt: skip
        api("Y04", "yaml", "override train.iters=010 (YAML 1.1 octal: 8)", _cfg(["train.iters=010"], "train.iters",
                                                                                 10), "either"),  # fmt: skip
        api("Y05", "yaml", "override train.name=yes (YAML 1.1 bool: 'True')", _cfg(["train.name=yes"], "train.name",
                                                                                     "yes"), "either"),  # fmt: skip
        Case("Y06", "yaml", "overrides train=5 then train.iters=3", [*cfg, "train=5", "train.iters=3"]),
        Case("Y07", "yaml", "overrides train.iters=3 then train.iters.x=5", [*cfg, "train.iters=3", "train.iters.x=5"]),
        api("Y08", "yaml", "overrides train.iters=3 then train={lr: 0.1} (the section replaces the key?)",
            _cfg(["train.iters=3", "train={lr: 0.1}"], "train.iters", 3), "either"),  # fmt: skip
        Case("Y09", "yaml", "config file with a dotted key 'train.iters: 5'", [*cfg[:1], "c_dot.yaml"], "error",
             wr("c_dot.yaml", "train.iters: 5\n")),
        Case("Y10", "yaml", "config file with a key null", [*cfg[:1], "c_null.yaml"], "error",
             wr("c_null.yaml", "null: 1\n")),
        Case("Y11", "yaml", "config file whose 'train:' section is empty (null)", [*cfg[:1], "c_empty_sec.yaml"],
             "either", wr("c_empty_sec.yaml", "train:\nmodel:\n  num_classes: 3\n")),
        api("Y12", "yaml", "config data.hflip: 'false' (a quoted string)", _cfg_file("data:\n  hflip: 'false'\n",
                                                                                    "data.hflip", False), "either"),
        Case("Y13", "yaml", "config train.bf16: 2 (a number as a boolean)", [*cfg[:1], "c_bool2.yaml"], "error",
             wr("c_bool2.yaml", "train:\n  bf16: 2\n")),
        api("Y14", "yaml", "config model.num_classes: 3.0 (an integral float)",
            _cfg_file("model:\n  num_classes: 3.0\n", "model.num_classes", 3), "either"),  # fmt: skip
        api("Y15", "yaml", "config train.name: 007 (a number as a string key)",
            _cfg_file("train:\n  name: 007\n", "train.name", "007"), "either"),  # fmt: skip
        check_ds("Y16", "dataset YAML with mask_suffix: null", GOOD + "mask_suffix: null\n", None, "either", "yaml"),
        check_ds("Y17", "dataset YAML with list: [a0, a1] (a list, not a file)", GOOD + "list: [a0, a1]\n", None,
                 "error", "yaml"),
        check_ds("Y18", "dataset YAML with root: '' (empty)", GOOD + "root: ''\n", None, "either", "yaml"),
        check_ds("Y19", "dataset YAML with images: null", "format: instance_png\nimages: null\nmasks: masks\n"
                 "classes: [c1]\n", None, "error", "yaml"),
        check_ds("Y20", "dataset YAML with classes: [c1, null]", "format: instance_png\nimages: images\nmasks: masks\n"
                 "classes: [c1, null]\n", None, "error", "yaml"),
        Case("Y21", "yaml", "synthetic num_images: true", ["data", "check", "syn_t.yaml"], "error",
             wr("syn_t.yaml", "format: synthetic\nnum_images: true\nsize: 64\n")),
        Case("Y22", "yaml", "synthetic size: [64] (one side)", ["data", "check", "syn_s1.yaml"], "error",
             wr("syn_s1.yaml", "format: synthetic\nnum_images: 2\nsize: [64]\n")),
        Case("Y23", "yaml", "synthetic seed: 1.5", ["data", "check", "syn_seed.yaml"], "either",
             wr("syn_seed.yaml", "format: synthetic\nnum_images: 2\nsize: 64\nseed: 1.5\n")),
        Case("Y24", "yaml", "synthetic num_images: 1e9 (a YAML string '1e9')", ["data", "check", "syn_big.yaml"],
             "error", wr("syn_big.yaml", "format: synthetic\nnum_images: 1e9\nsize: 64\n")),
        check_ds("Y25", "classes_file of 2 classes that is empty", "format: instance_png\nimages: images\n"
                 "masks: masks\nclasses: [c1, c2]\nclasses_file: cls.txt\n", {"cls.txt": ""}, "problem", "yaml"),
        check_ds("Y26", "classes_file naming a class with a trailing space and CRLF", "format: instance_png\n"
                 "images: images\nmasks: masks\nclasses: [c1, c2]\nclasses_file: cls.txt\n",
                 {"cls.txt": "".join(f"a{i} 1 c1 \r\na{i} 2 c2\r\n" for i in range(4))}, "ok", "yaml"),
        Case("Y27", "yaml", "sweep rows file: a row's overrides a list of strings", ["sweep", "cpu_lite0", "--rows",
             "rows_l.yaml", "--out", "y27", *P], "either",
             wr("rows_l.yaml", "rows:\n  a: [train.iters=1]\n")),  # fmt: skip
        Case("Y28", "yaml", "config file of 2 MB (20000 comment lines)", ["config", "c_big.yaml"], "ok",
             wr("c_big.yaml", "#" + "x" * 100 + "\n" * 1 + ("# " + "y" * 100 + "\n") * 20000)),
    ]


# ---------------------------------------------------------------------------------------------------- values
def value_cases() -> list[Case]:
    t = ["train", "cpu_lite0", "data.train=syn_a.yaml", "data.val=syn_b.yaml", "model.num_classes=3",
         "model.pretrained=false", "train.out_dir=vruns", "train.iters=1", "train.batch_size=2", "data.crop_size=64",
         "train.val_every=1000", "train.val_images=0", *P]  # fmt: skip
    s = ["sweep", "cpu_lite0", *t[2:6], *t[8:12], "--no-progress"]
    return [
        Case("X01", "value", "train with every loss weight 0 (trains nothing)",
             [*t, "loss.w_contrast=0", "loss.w_boundary=0", "loss.w_sem=0"]),
        Case("X02", "value", "train loss.ignore_index=1 (a class id: class 1 silently ignored)",
             [*t, "loss.ignore_index=1"]),
        Case("X03", "value", "train train.warmup_iters=50 with train.iters=1", [*t, "train.warmup_iters=50"], "either"),
        Case("X04", "value", "sweep --seeds 0,0 (the same seed twice)",
             [*s, "--grid", "train.iters=1", "--seeds", "0,0", "--out", "x04"]),
        Case("X05", "value", "sweep --grid train.iters=1,1 (the same row twice)", [*s, "--grid", "train.iters=1,1",
                                                                                 "--out", "x05"]),  # fmt: skip
        Case("X06", "value", "sweep --grid on one key given twice", [*s, "--grid", "train.iters=1", "--grid",
                                                                    "train.iters=2", "--out", "x06"]),  # fmt: skip
        Case("X07", "value", "data show --n 100000 (more than the 4 images)", ["data", "show", "ds/good.yaml", "--out",
                                                                              "x07", "--n", "100000"], "ok",
             fresh("x07")),  # fmt: skip
        Case("X08", "value", "info --size 100000", ["info", "cpu_lite0", "--size", "100000"], "either", timeout=120),
        Case("X09", "value", "pseudo --score-thr 1 (keeps nothing)", ["pseudo", "--data", "syn_a.yaml", "--method",
                                                                      "cc", "--score-thr", "1", "--out", "x09", *P],
             "either", fresh("x09")),  # fmt: skip
        Case("X10", "value", "pseudo --min-area 10^12", ["pseudo", "--data", "syn_a.yaml", "--method", "cc",
                                                          "--min-area", "1000000000000", "--out", "x10", *P], "either",
             fresh("x10")),  # fmt: skip
        Case("X11", "value", "predict --batch -1", predict("ds/good.yaml", "x11", "--batch", "-1")),
        Case("X12", "value", "predict mep.watershed_levels=65535 (one above the kernels' bound)",
             predict("ds/good.yaml", "x12", "mep.watershed_levels=65535")),
        Case("X13", "value", "predict mep.nms_margin=1e308", predict("ds/good.yaml", "x13", "mep.nms_margin=1e308"),
             "either", fresh("x13")),
        Case("X14", "value", "export --calib-images 0 --int8", ["export", "--weights", "w.safetensors", "--out",
                                                                 "x14.onnx", "--int8", "--calib-images", "0"]),
        Case("X15", "value", "evaluate --limit 1 on a 4-image dataset with --subset touching", ["evaluate", "--data",
             "ds/good.yaml", "--method", "cc", "--semantic", "gt", "--limit", "1", "--subset", "touching", "--out",
             "x15"], "either", fresh("x15")),  # fmt: skip
        Case("X16", "value", "train data.crop_size=8 on 64-px images", [*t[:9], "data.crop_size=8", *t[10:]],
             "either"),
    ]
