"""The one scheduler: any two-stage segmenter (``protocol.py``) over many images, its stages overlapped.

    read + prepare (reader processes) -> batches of equal padded size -> forward (main process)
    -> finish (+ ``after``) in a pool -> sink(prepared, instances, extras), in input order

Queues are bounded (a read-ahead window, a cap on the jobs waiting for the pool), so memory stays flat on any
number of images. An error in any stage is raised once, in the caller, naming the image; on an error or Ctrl-C the
pools are terminated at once (pool processes ignore SIGINT and leave it to the main process).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from baiseg.errors import BaisegError, DataError
from baiseg.inference.protocol import Item, Job, Prepared
from baiseg.instances import Instances

Sink = Callable[[Prepared, Instances, dict[str, Any]], None]


@dataclass
class Stats:
    """Busy seconds per stage, summed over the images (``read_s`` includes ``prepare``), and the counts."""

    images: int = 0
    skipped: int = 0
    read_s: float = 0.0
    forward_s: float = 0.0
    finish_s: float = 0.0
    after_s: float = 0.0


# ----------------------------------------------------------------------------------------------- pool processes
_READ: Any = None  # (read, preparer) in reader processes


def worker_init(read: Any = None, preparer: Any = None) -> None:
    """Pool processes leave Ctrl-C to the main process (which terminates them at once) and use one thread each;
    reader processes also get ``read`` and ``preparer`` (pickled once per process)."""
    global _READ
    if preparer is not None:
        _READ = (read, preparer)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        import cv2

        cv2.setNumThreads(1)
    except Exception:  # pragma: no cover
        pass


def read_prepare(read: Any, preparer: Any, item: Any) -> tuple[Prepared, float]:
    """``(preparer(read(item)), seconds)``; ``read`` None: ``item`` is an ``Item`` already."""
    t0 = time.perf_counter()
    it = item if read is None else read(item)
    if it.error is not None:
        p = Prepared(index=it.index, image_id=it.image_id, error=it.error, extras=it.extras)
    else:
        p = preparer(it)
    return p, time.perf_counter() - t0


def _read_task(item: Any) -> tuple[Prepared, float]:
    assert _READ is not None
    return read_prepare(_READ[0], _READ[1], item)


def _finish_task(finish: Any, after: Any, job: Job, prepared: Prepared | None) -> tuple[Instances, dict, float, float]:
    """``finish(job)`` then ``after(prepared, job, instances)`` (its dict merged into the extras; it may pop from
    ``job.extras`` what need not travel back), with their times."""
    t0 = time.perf_counter()
    inst = finish(job)
    t1 = time.perf_counter()
    if after is not None:
        job.extras.update(after(prepared, job, inst) or {})
    return inst, job.extras, t1 - t0, time.perf_counter() - t1


def terminate(pool: Any, wait_s: float = 5.0) -> None:
    """``pool.terminate()`` and ``join()`` with a bound: on a loaded machine the standard library's terminate can
    block on the task queue's lock held by an idle worker; after ``wait_s`` the worker processes are killed and the
    rest of the shutdown is left to a daemon thread, so that an interrupted run always exits at once."""
    import threading

    def stop() -> None:
        pool.terminate()
        pool.join()

    t = threading.Thread(target=stop, daemon=True)
    t.start()
    t.join(wait_s)
    if t.is_alive():
        for w in getattr(pool, "_pool", []):  # process pools: their worker processes
            if hasattr(w, "kill"):
                w.kill()
        t.join(1.0)


def _close(pools: Iterable[Any], ok: bool) -> None:
    """Close and join the pools after a run that went through (``ok``), else terminate them at once."""
    for pool in pools:
        if pool is None:
            continue
        if ok:
            pool.close()
            pool.join()
        else:  # error or Ctrl-C: stop at once, do not wait for queued work
            terminate(pool)


def _pools(readers: int, workers: int, read: Any, preparer: Any, preload: tuple[str, ...]) -> tuple[Any, Any]:
    """(reader processes or None when ``readers`` is 0, the finish pool: ``workers`` processes or one thread)."""
    import multiprocessing as mp
    from multiprocessing.pool import ThreadPool

    # forkserver, not fork: forking a process that runs torch / tqdm threads can deadlock the child
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(list(preload))
    reader_pool = ctx.Pool(readers, initializer=worker_init, initargs=(read, preparer)) if readers > 0 else None
    finish_pool = ctx.Pool(workers, initializer=worker_init) if workers > 0 else ThreadPool(1)
    return reader_pool, finish_pool


# ----------------------------------------------------------------------------------------------------- errors
def with_image(e: BaseException, ids: list[str]) -> BaseException:
    """``e`` naming the image(s) ``ids``: a ``BaisegError`` as a one-line error of the same type (unless it names
    them already), anything else with a note (its traceback kept)."""
    names = ", ".join(f"'{i}'" for i in ids)
    if isinstance(e, BaisegError):
        msg = str(e)
        if all(i in msg for i in ids):
            return e
        try:
            new = type(e)(f"{msg} (image {names})")
        except Exception:  # an error type with another constructor
            new = BaisegError(f"{msg} (image {names})")
        return new
    if isinstance(e, Exception):
        e.add_note(f"while segmenting image {names}")
    return e


def _label(x: Item | Prepared) -> str:
    """How errors name an input: its ``extras["path"]`` when the caller gave one, else its image id."""
    return str(x.extras.get("path") or x.image_id)


# ------------------------------------------------------------------------------------------------------ stages
def _prepared(items: Iterable[Any], read: Any, preparer: Any, pool: Any, window: int) -> Iterator[Prepared]:
    """Prepared items in input order with a bounded read-ahead (in ``pool`` when given, else in this process)."""
    q: deque = deque()
    for item in items:
        if pool is None:
            yield _timed(read_prepare, read, preparer, item)
            continue
        q.append((item, pool.apply_async(_read_task, (item,))))
        if len(q) >= window:
            yield _timed(_get, *q.popleft())
    while q:
        yield _timed(_get, *q.popleft())


def _get(item: Any, fut: Any) -> tuple[Prepared, float]:
    return fut.get()


def _timed(f: Any, *args: Any) -> Prepared:
    try:
        p, seconds = f(*args)
    except BaseException as e:  # an Item is named; a ``read`` names its own inputs
        item = args[-1] if f is read_prepare else args[0]
        raise (with_image(e, [_label(item)]) if isinstance(item, Item) else e) from None
    p.extras["_read_s"] = seconds
    return p


class _Run:
    """The state of one ``run``: batches waiting for the network, jobs waiting for the pool, the counts.

    ``order`` holds ``[prepared, future or None]`` in input order; a batch sets its entries' futures, and the sink
    takes entries off the front only, so batching by size never reorders the results."""

    def __init__(self, segmenter: Any, sink: Sink, pool: Any, after: Any, batch_size: int, max_pending: int,
                 bar: Any) -> None:  # fmt: skip
        self.segmenter, self.sink, self.pool, self.after = segmenter, sink, pool, after
        self.batch_size, self.max_pending, self.bar = batch_size, max_pending, bar
        self.groups: dict[Any, list[list]] = {}
        self.buffered = 0
        self.order: deque[list] = deque()
        self.stats = Stats()

    def add(self, p: Prepared) -> None:
        """Queue a prepared item; run the network on a full batch (or the largest one when too many sizes wait)."""
        from baiseg.preprocess import padded_size

        key = padded_size(*p.work.shape[:2])
        entry = [p, None, key]
        self.order.append(entry)
        self.groups.setdefault(key, []).append(entry)
        self.buffered += 1
        if len(self.groups[key]) >= self.batch_size:
            self.forward(key)
        elif self.buffered >= 4 * self.batch_size:
            self.forward(max(self.groups, key=lambda k: len(self.groups[k])))
        self.collect(block=False)

    def flush(self) -> None:
        """Run the network on every batch left, then wait for every job."""
        for key in list(self.groups):
            self.forward(key)
        self.collect(block=True)

    def forward(self, key: Any) -> None:
        batch = self.groups.pop(key)
        self.buffered -= len(batch)
        t0 = time.perf_counter()
        try:
            jobs = self.segmenter.forward([e[0] for e in batch])
        except BaseException as e:
            raise with_image(e, [_label(x[0]) for x in batch]) from None
        self.stats.forward_s += time.perf_counter() - t0
        finish = type(self.segmenter).finish
        for entry, job in zip(batch, jobs, strict=True):
            light = replace(entry[0], work=None) if self.after is not None else None  # the network's input stays
            entry[1] = self.pool.apply_async(_finish_task, (finish, self.after, job, light))

    def collect(self, block: bool) -> None:
        """Hand the finished jobs at the front of the queue to the sink (all when ``block``; always enough to keep
        at most ``max_pending`` waiting, running the front's batch early if it still waits for the network)."""
        while self.order:
            p, fut, key = self.order[0]
            full = len(self.order) > self.max_pending
            if fut is None:
                if not (block or full):
                    return
                self.forward(key)
                fut = self.order[0][1]
            if not (block or full or fut.ready()):
                return
            self.order.popleft()
            try:
                inst, extras, t_finish, t_after = fut.get()
                self.stats.finish_s += t_finish
                self.stats.after_s += t_after
                self.sink(p, inst, extras)
            except BaseException as e:
                raise with_image(e, [_label(p)]) from None
            self.stats.images += 1
            self.bar.update(1)


def run(items: Iterable[Any], segmenter: Any, sink: Sink, *, read: Callable[[Any], Item] | None = None,
        readers: int = 0, workers: int = 0, batch_size: int = 1, after: Any = None,
        on_skip: Callable[[Prepared], None] | None = None, progress: bool | str = False, total: int | None = None,
        preload: tuple[str, ...] = ("baiseg.data", "baiseg.postprocess")) -> Stats:  # fmt: skip
    """Segment every item with ``segmenter`` and give the results to ``sink`` in input order.

    Args:
        items: the inputs: ``Item``s, or anything ``read`` turns into one (e.g. an index into a dataset).
        segmenter: a ``protocol.TwoStageSegmenter``.
        sink: ``sink(prepared, instances, extras)`` for each readable item, in input order (main process).
        read: picklable ``item -> Item`` run before ``prepare`` (in the reader processes), or None.
        readers: reader processes running ``read`` + ``prepare`` (0: in this process).
        workers: processes running ``finish`` (0: one background thread of this process).
        batch_size: prepared items per ``forward`` call (items of equal padded size only).
        after: optional picklable ``after(prepared, job, instances) -> dict | None`` run in the pool after
            ``finish`` (e.g. writing an image's files; ``prepared.work`` is None there); its dict is merged into the
            sink's extras.
        on_skip: called for an item whose ``error`` is set (None: such an item stops the run with a DataError).
        progress: a tqdm bar on stderr (a str: its description); total: the bar's length.
        preload: modules the forkserver imports once for every pool process.

    Returns:
        the ``Stats`` of the run.

    Raises:
        the first error of any stage, once, naming the image (the pools are terminated first).
    """
    from tqdm import tqdm

    preparer = segmenter.preparer
    reader_pool, pool = _pools(readers, workers, read, preparer, preload)
    desc = progress if isinstance(progress, str) else "segment"
    bar = tqdm(total=total, desc=desc, unit="img", disable=not progress, file=sys.stderr, dynamic_ncols=True)
    state = _Run(segmenter, sink, pool, after, batch_size, 4 * max(workers, 1) + batch_size, bar)
    ok = False
    try:
        for p in _prepared(items, read, preparer, reader_pool, 2 * max(readers, 1) + 2 * batch_size):
            state.stats.read_s += p.extras.pop("_read_s", 0.0)
            if p.error is not None:
                if on_skip is None:
                    raise DataError(p.error)
                on_skip(p)
                state.stats.skipped += 1
                bar.update(1)
                continue
            state.add(p)
        state.flush()
        ok = True
    finally:
        bar.close()
        _close((reader_pool, pool), ok)
    return state.stats
