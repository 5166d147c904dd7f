"""Schedule, checkpoints, run directories, the seeded data stream and the validation meter."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from baiseg.config import load_config
from baiseg.engine.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from baiseg.engine.data import SeededStream, StreamSampler
from baiseg.engine.run_dir import MetricsCSV, create_run_dir
from baiseg.engine.schedule import poly_lr, set_lr
from baiseg.engine.validate import BoundarySemanticMeter
from baiseg.errors import WeightsError


def test_poly_schedule():
    assert poly_lr(0, 5e-5, 100) == pytest.approx(5e-5)
    assert poly_lr(50, 1.0, 100, 0.9) == pytest.approx(0.5**0.9)
    assert poly_lr(100, 1.0, 100) == 0.0
    assert poly_lr(0, 1.0, 100, 0.9, warmup_iters=10) == pytest.approx(0.1)
    assert poly_lr(9, 1.0, 100, 1.0, warmup_iters=10) == pytest.approx(0.91)
    lrs = [poly_lr(i, 1.0, 100, 0.9, 10) for i in range(100)]
    assert max(lrs) == lrs[9] and all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    set_lr(opt, 0.25)
    assert opt.param_groups[0]["lr"] == 0.25


def test_checkpoint_round_trip_and_rng(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    p = save_checkpoint(tmp_path / "checkpoint.pt", model_state=model.state_dict(), optimizer_state=opt.state_dict(),
                        iteration=7, config_yaml="a: 1\n", extra={"best": 0.5})
    expected = (random.random(), float(np.random.rand()), torch.rand(2))
    ckpt = load_checkpoint(p)
    assert ckpt["iteration"] == 7 and ckpt["extra"]["best"] == 0.5 and ckpt["config"] == "a: 1\n"
    set_rng_state(ckpt["rng"])
    assert (random.random(), float(np.random.rand())) == expected[:2] and torch.equal(torch.rand(2), expected[2])
    opt2 = torch.optim.Adam(torch.nn.Linear(3, 2).parameters())
    opt2.load_state_dict(ckpt["optimizer"])
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    assert not list(tmp_path.glob("*.tmp"))
    assert set(rng_state()) >= {"python", "numpy", "torch"}


def test_checkpoint_refuses_bad_files(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(WeightsError, match="cannot be read"):
        load_checkpoint(trunc)
    evil = tmp_path / "evil.pt"
    torch.save({"format": "baiseg-checkpoint-1", "obj": random.Random(0)}, evil)  # an arbitrary object
    with pytest.raises(WeightsError, match="cannot be read safely"):
        load_checkpoint(evil)


def test_run_dirs_never_overwrite(tmp_path):
    a = create_run_dir(tmp_path, "x")
    b = create_run_dir(tmp_path, "x")
    (tmp_path / "x-007").mkdir()
    c = create_run_dir(tmp_path, "x")
    assert [a.name, b.name, c.name] == ["x-001", "x-002", "x-008"]


def test_metrics_csv_resume_drops_later_rows(tmp_path):
    m = MetricsCSV(tmp_path / "metrics.csv")
    for i in range(1, 6):
        m.append({"iteration": i, "loss": float(i)})
    m2 = MetricsCSV(tmp_path / "metrics.csv", resume_from=3)
    assert [r["iteration"] for r in m2.read()] == ["1", "2", "3"]


class _Numbers(torch.utils.data.Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"i": i}


def _ident(sample, rng):
    return {"i": sample["i"], "r": float(rng.random()), "g": random.random()}


def test_stream_is_seeded_by_position_and_sharded():
    s = SeededStream(_Numbers(), _ident, seed=3)
    first = [s[p] for p in range(10)]
    assert sorted(x["i"] for x in first[:5]) == list(range(5)) == sorted(x["i"] for x in first[5:])
    again = SeededStream(_Numbers(), _ident, seed=3)
    assert [again[p] for p in (7, 2, 9)] == [first[7], first[2], first[9]]  # random access, any order
    state = random.getstate()
    _ = s[4]
    assert random.getstate() == state  # the caller's RNG is untouched
    it0 = iter(StreamSampler(start=8, rank=0, world_size=2))
    it1 = iter(StreamSampler(start=8, rank=1, world_size=2))
    assert [next(it0) for _ in range(3)] == [8, 10, 12] and [next(it1) for _ in range(3)] == [9, 11, 13]


def test_boundary_meter_hand_case():
    contour = np.zeros((10, 10), np.uint8)
    contour[:, 5] = 1
    contour[0, :] = 255
    pred = np.zeros((10, 10), bool)
    pred[:, 6] = True  # 1 px off: within tolerance
    pred[:, 0] = True  # far: false positives
    sem = np.zeros((10, 10), np.int64)
    sem[:, 5:] = 1
    sem[0] = 255
    m = BoundarySemanticMeter(num_classes=2, tolerance_px=1)
    m.update(pred, contour, sem, sem)
    out = m.compute()
    assert out["val_boundary_p"] == pytest.approx(0.5) and out["val_boundary_r"] == pytest.approx(1.0)
    assert out["val_boundary_f"] == pytest.approx(2 / 3) and out["val_miou"] == pytest.approx(1.0)


def test_config_fields_exist():
    cfg = load_config(None, ["train.val_max_images=3", "train.best_metric=val_miou"])
    assert cfg.train.val_max_images == 3 and cfg.train.best_metric == "val_miou"
