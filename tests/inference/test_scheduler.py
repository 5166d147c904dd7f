"""The one scheduler (baiseg/inference/scheduler.py) with a stand-in segmenter: input order, batching by padded
size, errors raised once with the image's id, pools terminated on an error."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from baiseg.errors import BaisegError, DataError
from baiseg.inference import scheduler
from baiseg.inference.protocol import Item

sys.path.insert(0, str(Path(__file__).parent))  # the stand-in, importable by name in pool processes too
from inference_standin import Standin, items, write_after  # noqa: E402


def _collect(**kwargs):
    got = []
    seg = kwargs.pop("segmenter", None) or Standin(delay_s=0.02)
    stats = scheduler.run(kwargs.pop("items"), seg, lambda p, inst, ex: got.append((p.image_id, inst, ex)),
                          **kwargs)  # fmt: skip
    return got, stats, seg


@pytest.mark.parametrize("workers", [0, 2])
def test_results_reach_the_sink_in_input_order(workers):
    got, stats, _ = _collect(items=items(6), workers=workers, batch_size=2)
    assert [g[0] for g in got] == [f"im{i:03d}" for i in range(6)]
    assert [float(g[1].scores[0]) for g in got] == pytest.approx([i / 1000 for i in range(6)])
    assert all(g[2]["finished"] and g[2]["from_forward"] == i for i, g in enumerate(got))  # finish's extras too
    assert stats.images == 6 and stats.skipped == 0


def test_reader_processes_keep_the_order_and_the_after_hook_runs_in_the_pool():
    got, stats, _ = _collect(items=items(5), readers=2, workers=2, after=write_after)
    assert [g[0] for g in got] == [f"im{i:03d}" for i in range(5)]
    assert [g[2]["mean"] for g in got] == [float(i) for i in range(5)]
    assert [g[2]["n"] for g in got] == [1] * 5


def test_batches_group_items_of_equal_padded_size():
    sizes = [8, 40, 16, 40, 30, 8]  # padded: 32, 64, 32, 64, 32, 32
    got, _, seg = _collect(items=items(6, sizes), batch_size=2)
    for batch in seg.batches:
        assert len({-(-sizes[i] // 32) for i in batch}) == 1, seg.batches
    assert sorted(i for b in seg.batches for i in b) == list(range(6))
    assert max(len(b) for b in seg.batches) == 2
    assert [g[0] for g in got] == [f"im{i:03d}" for i in range(6)]  # still in input order


@pytest.mark.parametrize("stage", ["prepare", "forward", "finish"])
@pytest.mark.parametrize("workers", [0, 2])
def test_an_error_in_any_stage_is_raised_once_with_the_image_id(stage, workers):
    got = []
    with pytest.raises(BaisegError) as e:
        scheduler.run(items(5), Standin(fail=(stage, 3)), lambda p, i, x: got.append(p.image_id), workers=workers)
    assert "'im003'" in str(e.value) and "\n" not in str(e.value)
    assert str(e.value).count("im003") == 1
    assert "im003" not in got and "im004" not in got


def test_an_error_in_the_sink_names_the_image():
    def sink(p, inst, extras):
        if p.index == 2:
            raise DataError("disk full")

    with pytest.raises(DataError, match="disk full \\(image 'im002'\\)"):
        scheduler.run(items(4), Standin(), sink)


def test_a_bug_keeps_its_type_and_traceback_with_a_note():
    def sink(p, inst, extras):
        raise KeyError("x")

    with pytest.raises(KeyError) as e:
        scheduler.run(items(2), Standin(), sink)
    assert any("im000" in n for n in getattr(e.value, "__notes__", []))


def test_the_pools_are_terminated_on_an_error(monkeypatch):
    made, terminated = [], []
    real_pools, real_terminate = scheduler._pools, scheduler.terminate

    def pools(*a):
        made.extend(real_pools(*a))
        return made

    def terminate(pool, wait_s=5.0):
        terminated.append(pool)
        real_terminate(pool, wait_s)

    monkeypatch.setattr(scheduler, "_pools", pools)
    monkeypatch.setattr(scheduler, "terminate", terminate)
    with pytest.raises(BaisegError):
        scheduler.run(items(6), Standin(fail=("finish", 1), delay_s=0.05), lambda *a: None, readers=1, workers=2)
    assert terminated == [p for p in made if p is not None] and len(terminated) == 2
    assert not any(w.is_alive() for pool in terminated for w in pool._pool)


def test_unreadable_items_go_to_on_skip_or_stop_the_run():
    bad = items(3)
    bad[1] = Item(index=1, image_id="im001", error="cannot read 'im001.png': truncated")
    skipped, got = [], []
    stats = scheduler.run(bad, Standin(), lambda p, i, x: got.append(p.image_id), on_skip=skipped.append)
    assert got == ["im000", "im002"] and [p.error for p in skipped] == ["cannot read 'im001.png': truncated"]
    assert stats.skipped == 1 and stats.images == 2
    with pytest.raises(DataError, match="truncated"):
        scheduler.run(bad, Standin(), lambda *a: None)


def test_a_read_function_turns_items_into_inputs():
    data = items(4)
    got, _, _ = _collect(items=range(4), read=data.__getitem__, readers=0)
    assert [g[0] for g in got] == [f"im{i:03d}" for i in range(4)]


def test_terminating_a_stuck_pool_is_bounded():
    import threading

    class Worker:
        killed = False

        def kill(self):
            Worker.killed = True

    class StuckPool:
        _pool = [Worker()]

        def terminate(self):
            threading.Event().wait()  # blocks forever, as the standard library's can on a held queue lock

        def join(self):
            pass

    scheduler.terminate(StuckPool(), wait_s=0.3)  # returning at all is the behaviour: the pool's terminate never does
    assert Worker.killed


def test_errors_name_the_input_path_when_the_caller_gives_one():
    data = items(3)
    data[1].extras["path"] = "in/b.png"
    with pytest.raises(BaisegError, match=r"\(image 'in/b.png'\)"):
        scheduler.run(data, Standin(fail=("finish", 1)), lambda *a: None)


def test_ctrl_c_reaches_the_caller_as_it_is_and_the_pools_are_gone(monkeypatch):
    made = []
    real_pools = scheduler._pools

    def pools(*a):
        made.extend(real_pools(*a))
        return made

    def sink(p, inst, extras):
        if p.index == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(scheduler, "_pools", pools)
    with pytest.raises(KeyboardInterrupt):
        scheduler.run(items(5), Standin(delay_s=0.02), sink, readers=1, workers=2)
    assert not any(w.is_alive() for pool in made if pool is not None for w in pool._pool)
