"""``baiseg sweep``: grids and rows, a 2-point sweep on synthetic data with the tiny model, resume after a kill."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from baiseg.cli import main
from baiseg.config import CONFIGS_DIR, ConfigError
from baiseg.experiments.sweep import Sweep
from baiseg.experiments.sweep_spec import SweepRow, SweepSpec, load_rows, parse_grid

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from engine_tiny_model import build_tiny  # noqa: E402

HERE = Path(__file__).resolve().parent
BASE = ["data.train=synthetic", "data.val=synthetic", "data.crop_size=64", "data.num_workers=0", "train.batch_size=2",
        "model.iabm_dim=8", "train.device=cpu", "train.val_max_images=2", "train.log_every=1"]  # fmt: skip


def test_grid_is_the_cartesian_product():
    rows = parse_grid(["model.iabm_r=1,2", "loss.temperature=0.1,0.5"])
    assert [r.overrides for r in rows] == [
        ["model.iabm_r=1", "loss.temperature=0.1"], ["model.iabm_r=1", "loss.temperature=0.5"],
        ["model.iabm_r=2", "loss.temperature=0.1"], ["model.iabm_r=2", "loss.temperature=0.5"],
    ]  # fmt: skip
    assert rows[0].name == "model.iabm_r=1 loss.temperature=0.1"


@pytest.mark.parametrize("bad", ["model.iabm_r", "model.iabm_r=", "model.iabm_r=1,,2", "=1,2", "model.iabm_r=1,1"])
def test_bad_grid_is_a_config_error(bad):
    with pytest.raises(ConfigError):
        parse_grid([bad])


def test_unknown_key_and_reserved_key_are_one_line_errors(tmp_path, capsys):
    for grid, word in (("model.nope=1,2", "unknown key 'model.nope'"), ("mep.nope=1,2", "unknown key 'mep.nope'"),
                       ("train.out_dir=a,b", "set by the sweep itself")):  # fmt: skip
        status = main(["sweep", "cpu_lite0", "--grid", grid, "--out", str(tmp_path / "s"), *BASE])
        err = capsys.readouterr().err.strip()
        assert status == 2 and word in err and len(err.splitlines()) == 1, err
    status = main(["sweep", "cpu_lite0", "--grid", "train.seed=0,1", "--seeds", "0,1", "--out", str(tmp_path / "s"),
                   *BASE])  # fmt: skip
    assert status == 2 and "--seeds" in capsys.readouterr().err


def test_shipped_rows_files_parse_and_share_trainings(tmp_path):
    folder = CONFIGS_DIR / "ablations"
    rows, desc = load_rows(folder / "table3.yaml")
    assert [r.name for r in rows] == ["none", "+CFM", "+DMA", "+PPC", "+refinement"] and "Table 3" in desc
    assert rows[-1].mep_overrides == ["mep.refine=true"] and rows[0].mep_overrides == ["mep.refine=false"]
    spec = SweepSpec(config=CONFIGS_DIR / "cpu_lite0.yaml", rows=rows, out=tmp_path, overrides=BASE, seeds=[0, 1])
    trainings = spec.plan()
    assert len(trainings) == 8  # +refinement reuses the weights of +PPC, for each seed
    assert [r.name for r in trainings[3].rows] == ["+PPC", "+refinement"]
    assert {t.seed for t in trainings} == {0, 1} and trainings[0].cfg.train.seed == 0
    assert trainings[0].cfg.model.use_cfm is False and trainings[3].cfg.loss.use_contrast is True
    for name, n_trainings in (("table7", 3), ("tables45", 5)):
        rows, _ = load_rows(folder / f"{name}.yaml")
        assert len(SweepSpec(config=CONFIGS_DIR / "cpu_lite0.yaml", rows=rows, out=tmp_path,
                             overrides=BASE).plan()) == n_trainings  # fmt: skip


def test_two_point_sweep_writes_a_table_with_finite_numbers(tmp_path):
    spec = SweepSpec(config=CONFIGS_DIR / "cpu_lite0.yaml", rows=parse_grid(["loss.temperature=0.1,0.5"]),
                     out=tmp_path / "sw", overrides=BASE + ["train.iters=3", "train.ckpt_every=3", "train.lr=1e-2"],
                     limit=3, size=64, baselines=["cc"])  # fmt: skip
    lines: list[str] = []
    table = Sweep(spec, build_fn=build_tiny, progress=False, log=lines.append).run()
    assert table["complete"] and len(table["rows"]) == 2 and table["eval_images"] == 3
    for row in table["rows"]:
        assert row["seeds_done"] == 1 and row["params"] > 0 and row["macs"] > 0
        for key in ("gt_mAP50", "gt_mAP75", "model_mAP50", "model_mAP75", "train_wall_s"):
            assert math.isfinite(row["summary"][key]["mean"]), (key, row["summary"])
        assert (Path(row["runs"][0]["run_dir"]) / "last.safetensors").is_file()
    assert table["baselines"][0]["method"] == "cc" and math.isfinite(table["baselines"][0]["gt"]["mAP50"])
    md = (tmp_path / "sw" / "sweep.md").read_text()
    body = [line for line in md.splitlines() if line.startswith("| loss.temperature")]
    assert len(body) == 2 and "not yet measured" not in md
    assert json.loads((tmp_path / "sw" / "sweep.json").read_text())["rows"][1]["name"] == "loss.temperature=0.5"
    # a second run does nothing but rewrite the table
    lines.clear()
    Sweep(spec, build_fn=build_tiny, progress=False, log=lines.append).run()
    assert sum("done, skipped" in line for line in lines) == 2


def test_a_changed_sweep_into_the_same_folder_is_refused(tmp_path):
    out = tmp_path / "sw"
    rows = parse_grid(["loss.temperature=0.1"])
    spec = SweepSpec(config=CONFIGS_DIR / "cpu_lite0.yaml", rows=rows, out=out, overrides=BASE + ["train.iters=1"])
    sweep = Sweep(spec, build_fn=build_tiny, progress=False, log=lambda s: None)
    state = sweep._load_state(sweep.trainings[0])
    sweep._save_state(sweep.trainings[0], state)
    spec.overrides = BASE + ["train.iters=2"]
    with pytest.raises(ConfigError, match="other settings"):
        Sweep(spec, build_fn=build_tiny, progress=False, log=lambda s: None).run()


def test_thread_and_worker_counts_do_not_change_a_sweeps_identity(tmp_path):
    out = tmp_path / "sw"
    rows = parse_grid(["loss.temperature=0.1"])
    spec = SweepSpec(config=CONFIGS_DIR / "cpu_lite0.yaml", rows=rows, out=out, overrides=BASE + ["train.iters=1"])
    sweep = Sweep(spec, build_fn=build_tiny, progress=False, log=lambda s: None)
    sweep._save_state(sweep.trainings[0], sweep._load_state(sweep.trainings[0]))
    spec.overrides = BASE + ["train.iters=1", "train.threads=1", "data.num_workers=0"]
    again = Sweep(spec, build_fn=build_tiny, progress=False, log=lambda s: None)
    assert again.trainings[0].key == sweep.trainings[0].key
    again._check_state(again.trainings[0])  # accepted: same training, other resources
    assert again.trainings[0].cfg.train.threads == 1


def _sweep_cmd(out: Path) -> list[str]:
    return [sys.executable, str(HERE / "sweep_runner.py"), "sweep", "cpu_lite0", "--grid", "loss.temperature=0.1,0.5",
            "--out", str(out), "--limit", "2", "--size", "64", "--no-progress", *BASE, "train.iters=6",
            "train.ckpt_every=2", "train.val_every=100"]  # fmt: skip


def test_resume_after_a_kill(tmp_path):
    out = tmp_path / "sw"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first_eval = out / "evals" / "loss-temperature-0-1_s0.json"
    second_ckpt = out / "runs" / "loss-temperature-0-5_s0-001" / "checkpoint.pt"
    with open(tmp_path / "log1.txt", "w") as log:
        proc = subprocess.Popen(_sweep_cmd(out), stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 120
        while not (first_eval.is_file() and second_ckpt.is_file()) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert first_eval.is_file() and second_ckpt.is_file(), (tmp_path / "log1.txt").read_text()[-2000:]
    weights = Path(json.loads(first_eval.read_text())["weights"])
    mtime = weights.stat().st_mtime_ns
    assert not (out / "evals" / "loss-temperature-0-5_s0.json").exists()
    done = subprocess.run(_sweep_cmd(out), capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "loss-temperature-0-1_s0 (loss.temperature=0.1; seed 0): done, skipped" in done.stdout
    assert "resuming" in done.stdout and "from iteration" in done.stdout, done.stdout
    assert weights.stat().st_mtime_ns == mtime
    assert not (out / "runs" / "loss-temperature-0-5_s0-002").exists()  # resumed in place, not restarted
    table = json.loads((out / "sweep.json").read_text())
    assert table["complete"] and [r["seeds_done"] for r in table["rows"]] == [1, 1]
    state = json.loads((out / "state" / "loss-temperature-0-5_s0.json").read_text())
    assert state["status"] == "trained" and [s.get("killed", False) for s in state["segments"]] == [True, False]
    assert state["segments"][1]["from_iteration"] in (2, 4)


def test_rows_differing_in_mep_keys_share_one_training(tmp_path):
    rows_file = tmp_path / "rows.yaml"
    rows_file.write_text("rows:\n  refined: {}\n  unrefined:\n    mep: {refine: false}\n")
    rows, _ = load_rows(rows_file)
    spec = SweepSpec(config=CONFIGS_DIR / "cpu_lite0.yaml", rows=rows, out=tmp_path / "sw", limit=2, size=64,
                     overrides=BASE + ["train.iters=2"])  # fmt: skip
    table = Sweep(spec, build_fn=build_tiny, progress=False, log=lambda s: None).run()
    assert len(list((tmp_path / "sw" / "runs").iterdir())) == 1
    assert [r["trained_as"] for r in table["rows"]] == ["refined", "refined"]
    assert table["rows"][1]["runs"][0]["mep_overrides"] == ["mep.refine=false"]
    assert "(weights of 'refined')" in (tmp_path / "sw" / "sweep.md").read_text()
    spec.rows.append(SweepRow("other val", ["data.val=other.yaml"]))
    with pytest.raises(ConfigError, match="same data.val"):
        spec.plan()


def test_reuse_takes_the_same_training_from_another_sweep_and_trains_the_rest(tmp_path, capsys):
    base = BASE + ["train.iters=2", "train.ckpt_every=2"]
    first = SweepSpec(config=CONFIGS_DIR / "cpu_lite0.yaml", rows=parse_grid(["loss.temperature=0.2"]),
                      out=tmp_path / "a", overrides=base, limit=2, size=64)  # fmt: skip
    Sweep(first, build_fn=build_tiny, progress=False, log=lambda s: None).run()
    trained = json.loads((tmp_path / "a" / "state" / "loss-temperature-0-2_s0.json").read_text())
    # the same training under another row name and other thread count; T=0.5 is a new training
    rows = [SweepRow("T=0.2", ["loss.temperature=0.2"]), SweepRow("T=0.5", ["loss.temperature=0.5"])]
    second = SweepSpec(config=CONFIGS_DIR / "cpu_lite0.yaml", rows=rows, out=tmp_path / "b", limit=2, size=64,
                       overrides=base + ["train.threads=1"], reuse=[tmp_path / "a"])  # fmt: skip
    lines: list[str] = []
    sweep = Sweep(second, build_fn=build_tiny, progress=False, log=lines.append)
    # an earlier attempt at T=0.2 was killed before its first checkpoint: still reused
    state = sweep._load_state(sweep.trainings[0])
    state.update(status="training", segments=[{"start": 1.0, "end": None, "from_iteration": 0}])
    sweep._save_state(sweep.trainings[0], state)
    table = sweep.run()
    assert table["complete"]
    state = json.loads((tmp_path / "b" / "state" / "t-0-2_s0.json").read_text())
    assert state["run_dir"] == trained["run_dir"] and state["reused_from"].endswith("loss-temperature-0-2_s0.json")
    assert state["train_wall_s"] == trained["train_wall_s"]
    assert sorted(p.name for p in (tmp_path / "b" / "runs").iterdir()) == ["t-0-5_s0-001"]
    assert sum("--reuse" in line for line in lines) == 1
    # the command line checks its folders
    assert main(["sweep", "cpu_lite0", "--grid", "loss.temperature=0.1", "--reuse", str(tmp_path / "nope"),
                 "--out", str(tmp_path / "c"), *base]) == 2  # fmt: skip
    assert "not a sweep folder" in capsys.readouterr().err


def test_a_shipped_preset_is_named_in_the_table_not_its_path():
    from baiseg.experiments.sweep import _config_name

    assert _config_name(CONFIGS_DIR / "cpu_lite0.yaml") == "cpu_lite0"
    assert _config_name("my/own.yaml") == "my/own.yaml"


def test_table_only_writes_the_table_and_trains_nothing(tmp_path, capsys):
    out = tmp_path / "sw"
    args = ["sweep", "cpu_lite0", "--grid", "loss.temperature=0.1", "--out", str(out), "--limit", "2", "--size", "64",
            *BASE, "train.iters=1"]  # fmt: skip
    assert main([*args, "--table-only"]) == 1  # not complete: nothing evaluated yet
    table = json.loads((out / "sweep.json").read_text())
    assert table["rows"][0]["seeds_done"] == 0 and not (out / "runs").exists()
    assert "not yet measured" in capsys.readouterr().out
