"""Cases of the fourth campaign, fifth part (added after its first runs): more of the Python API (``infer``,
``for_classes``, ``write_results``, ``load_config``) and more command combinations."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.campaign3 import Case
from bench.campaign3_cases import P, both, fresh, wr
from bench.campaign4 import api

SCENE = np.full((64, 80, 3), 30, np.uint8)
SCENE[8:36, 8:36], SCENE[8:36, 44:72] = 200, 120


def _pred():
    from baiseg import Predictor

    return Predictor.from_pretrained("w.safetensors")


def _infer_2d(work: Path) -> str | None:
    out = _pred().infer(SCENE[..., 0])
    return None if out["sem_prob"].shape[1:] == (64, 80) else f"maps of shape {out['sem_prob'].shape}"


def _infer_none(work: Path) -> str | None:
    out = _pred().infer_batch([])
    return None if out == [] else f"infer_batch([]) gave {out!r:.60}"


def _for_classes(names, ids):
    def fn(work: Path) -> str | None:
        q = _pred().for_classes(names, ids)
        cats = sorted({i.category_id for i in q.predict(SCENE)})
        return f"accepted: results under category ids {cats} for names {names} and ids {ids}"

    return fn


def _write_nan(work: Path) -> str | None:
    from baiseg.evaluation import write_results

    write_results(work / "wr_nan.json", [{"image_id": "a", "category_id": 1, "score": float("nan"),
                                          "segmentation": {"size": [2, 2], "counts": "04"}}])  # fmt: skip
    return "a NaN score was written"


def _overrides_not_str(work: Path) -> str | None:
    from baiseg.config import load_config

    load_config(None, [5])
    return "accepted"


def _masks16(work: Path) -> str | None:
    """ds's instance masks saved as 16-bit 3-channel PNGs (OpenCV's habit for uint16 arrays of 3 equal channels)."""
    import cv2
    from PIL import Image

    from baiseg.data import build_dataset

    d = work / "m16"
    for sub in ("images", "masks"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    for i in range(4):
        (d / "images" / f"a{i}.png").write_bytes((work / "ds" / "images" / f"a{i}.png").read_bytes())
        ids = np.asarray(Image.open(work / "ds" / "masks" / f"a{i}.png")).astype(np.uint16)
        cv2.imwrite(str(d / "masks" / f"a{i}.png"), np.dstack([ids] * 3))
    (d / "d.yaml").write_text("format: instance_png\nimages: images\nmasks: masks\nclasses: [c1]\n")
    ds = build_dataset(d / "d.yaml")
    n = sum(len(ds[i]["instances"]["classes"]) for i in range(len(ds)))
    return None if n == 8 else f"{n} instances, not 8 (the 16-bit masks read as their high bytes)"


def _semantic16(work: Path) -> str | None:
    import cv2

    from baiseg.data.io import read_semantic_map

    sem = np.zeros((64, 80), np.uint16)
    sem[8:36, 8:36] = 1
    (work / "s16").mkdir(exist_ok=True)
    cv2.imwrite(str(work / "s16" / "a0.png"), np.dstack([sem] * 3))
    got = read_semantic_map(work / "s16", "a0", (64, 80), 1)
    return None if np.array_equal(got, sem) else f"ids {np.unique(got).tolist()}, not [0, 1]"


def api_cases() -> list[Case]:
    return [
        api("E01", "other", "Predictor.infer of a 2-D (gray) array", _infer_2d, "either"),
        api("E02", "other", "Predictor.infer_batch([])", _infer_none, "either"),
        api("E03", "other", "for_classes(['c1', 'c2'], [7]): one category id for two names", _for_classes(
            ["c1", "c2"], [7])),  # fmt: skip
        api("E04", "other", "for_classes(['c1', 'c1']): a name twice", _for_classes(["c1", "c1"], None)),
        api("E05", "other", "for_classes(['c1', 'c2'], ['a', 'b']): ids that are not numbers", _for_classes(
            ["c1", "c2"], ["a", "b"])),  # fmt: skip
        api("E06", "other", "write_results with a NaN score", _write_nan),
        api("E07", "yaml", "load_config(None, [5]) (an override that is not a string)", _overrides_not_str),
        api("E16", "image", "instance masks saved as 16-bit 3-channel PNGs", _masks16, "either"),
        api("E17", "image", "a semantic map saved as a 16-bit 3-channel PNG (--semantic DIR)", _semantic16, "either"),
    ]


def cli_cases() -> list[Case]:
    return [
        Case("E08", "value", "train CONFIG --resume RUN (both)", ["train", "cpu_lite0", "--resume", "runs/r0-001", *P]),
        Case("E09", "path", "export --out x.ONNX (capital suffix), then predict with it",
             ["predict", "--weights", "e09.ONNX", "--input", "ds/good.yaml", "--out", "o_e09", *P], "ok",
             both(fresh("o_e09", "e09.ONNX"), _export_upper)),  # fmt: skip
        Case("E10", "value", "evaluate --limit -0 (0 = all)", ["evaluate", "--data", "ds/good.yaml", "--method", "cc",
                                                              "--semantic", "gt", "--limit", "-0", "--out", "o_e10"],
             "ok", fresh("o_e10")),  # fmt: skip
        Case("E11", "other", "pseudo --semantic a predict run's boundary/ folder (probabilities as ids)",
             ["pseudo", "--data", "ds/good.yaml", "--method", "cc", "--semantic", "pred0/boundary", "--out", "o_e11",
              *P]),  # fmt: skip
        Case("E12", "path", "data check of a shipped dataset with BAISEG_SHARED_DATA a file",
             ["data", "check", "pennfudan_val"], "error", env={"BAISEG_SHARED_DATA": "syn_a.yaml"}),
        Case("E13", "out", "sweep --reuse a predict run's folder", ["sweep", "cpu_lite0", "--reuse", "pred0", "--grid",
                                                                   "train.iters=1", "--out", "o_e13", *P]),
        Case("E14", "yaml", "config file whose train.name is a YAML date (2024-01-02)", ["config", "c_date.yaml"],
             "either", wr("c_date.yaml", "train:\n  name: 2024-01-02\n")),
        Case("E18", "value", "pseudo --workers 100000 (every other worker count is bounded by 1024)",
             ["pseudo", "--data", "syn_a.yaml", "--method", "cc", "--workers", "100000", "--out", "o_e18", *P],
             "error", fresh("o_e18")),  # fmt: skip
        Case("E19", "value", "data.num_workers=100000 (a training's DataLoader would fork them all; config only)",
             ["config", "cpu_lite0", "data.num_workers=100000"]),
        Case("E15", "path", "BAISEG_SHARED_DATA=. (relative) with a YAML in a subfolder naming it", ["data", "check",
             "e15/d.yaml"], "ok", wr("e15/d.yaml", "format: instance_png\nroot: ${BAISEG_SHARED_DATA}/ds\nimages: "
                                     "images\nmasks: masks\nclasses: [c1]\n"), env={"BAISEG_SHARED_DATA": "."}),
    ]


def _export_upper(work: Path) -> None:
    from bench.campaign3 import baiseg

    r = baiseg(work, ["export", "--weights", "w.safetensors", "--out", "e09.ONNX", "--no-check"], background=True)
    assert r.wait(timeout=600) == 0, r.stderr.read()


def extra_cases() -> list[Case]:
    return [*api_cases(), *cli_cases()]
