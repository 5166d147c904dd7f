"""Iteration-based training loop (paper §4.2): Adam, poly LR, gradient accumulation, bf16 autocast on CUDA, DDP.

The same loop trains BAISeg and the Mask R-CNN of the refinement step; what differs (data, losses, validation) comes
from ``baiseg.engine.tasks``.

``train(cfg)`` starts a new run directory; ``train(cfg, resume_dir=...)`` continues one from its ``checkpoint.pt``
with the same iteration counter, schedule, optimiser state, RNG states and data order.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from baiseg.architectures import get_architecture
from baiseg.config import Config, config_from_dict, dump_yaml, parse_overrides
from baiseg.engine import distributed as D
from baiseg.engine.checkpoint import load_checkpoint, save_checkpoint, set_rng_state
from baiseg.engine.data import SeededStream, train_loader
from baiseg.engine.plot import plot_metrics
from baiseg.engine.run_dir import MetricsCSV, create_run_dir, write_run_info
from baiseg.engine.schedule import poly_lr, set_lr
from baiseg.engine.tasks import task_for
from baiseg.engine.val_images import save_val_images
from baiseg.engine.validate import has_instance_gt
from baiseg.errors import BaisegError
from baiseg.weights_io import save_weights, unwrap_model


class TrainingDiverged(BaisegError):
    """The loss became NaN or infinite."""


def resume_config(run_dir: str | Path, overrides: list[str] | None = None) -> Config:
    """The config stored in ``run_dir/checkpoint.pt`` with optional ``key=value`` overrides on top."""
    ckpt_path = Path(run_dir) / "checkpoint.pt"
    if not Path(run_dir).is_dir():
        raise BaisegError(f"--resume: '{run_dir}' is not a directory; give a run folder such as runs/cpu_lite0-001")
    if not ckpt_path.is_file():
        raise BaisegError(f"--resume: '{run_dir}' holds no checkpoint.pt (the run stopped before its first checkpoint)")
    from baiseg.config import _apply, validate
    from baiseg.engine.resume import check_resumable
    from baiseg.yamlio import load_yaml_text

    tree = load_yaml_text(load_checkpoint(ckpt_path)["config"], f"the config stored in '{ckpt_path}'") or {}
    stored = config_from_dict(tree)
    cfg = config_from_dict(tree)
    if overrides:
        _apply(cfg, parse_overrides(overrides), "", "command line")
    validate(cfg)  # exactly as a new run's config (load_config)
    check_resumable(Path(run_dir), stored, cfg)
    return cfg


def _seed_everything(seed: int, deterministic: bool) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def train(
    cfg: Config,
    *,
    resume_dir: str | Path | None = None,
    name: str | None = None,
    build_fn: Callable[[Any], nn.Module] | None = None,
    progress: bool = True,
    resume_overrides: list[str] | None = None,
) -> Path:
    """Train (or resume) and return the run directory.

    Args:
        cfg: the resolved config (for a resume: ``resume_config(run_dir)``).
        resume_dir: a run directory holding ``checkpoint.pt`` to continue.
        name: run folder prefix for a new run (default ``cfg.train.name`` or ``"run"``).
        build_fn: model factory from ``cfg.model`` (default ``baiseg.models.build_model``).
        progress: show a tqdm bar on rank 0.
        resume_overrides: the ``key=value`` overrides given with ``--resume`` (recorded in the run folder).

    Raises:
        TrainingDiverged: a loss became non-finite (the loss dict is in the message).
    """
    if build_fn is None:
        from baiseg.models import build_model as build_fn
    t = cfg.train
    if t.threads > 0:
        torch.set_num_threads(t.threads)
    dist = D.init_distributed(t.device)
    task = task_for(cfg)
    stack = contextlib.ExitStack()
    try:
        train_ds, val_ds = _datasets(cfg, task)
        if val_ds is not None:  # "auto" -> the key itself, so config.yaml and the checkpoint record it
            t.best_metric = task.resolve_best_metric(t.best_metric, has_instance_gt(val_ds))
        ckpt = load_checkpoint(Path(resume_dir) / "checkpoint.pt") if resume_dir else None
        _seed_everything(t.seed + dist.rank, t.deterministic)
        model = build_fn(cfg.model).to(dist.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
        start, best = 0, -math.inf
        if ckpt is not None:
            model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            start, best = int(ckpt["iteration"]), float(ckpt["extra"].get("best", -math.inf))
            set_rng_state(ckpt["rng"])
        run_dir = _prepare_run_dir(cfg, dist, resume_dir, name, start, stack, resume_overrides)
        stream = SeededStream(train_ds, task.transform(model), t.seed)
        loader = train_loader(stream, cfg, start, dist.rank, dist.world_size, collate_fn=task.collate)
        net = model
        if dist.distributed:
            net = nn.parallel.DistributedDataParallel(
                model, device_ids=[dist.device.index] if dist.device.type == "cuda" else None)
        loop = _Loop(cfg, task, dist, net, optimizer, run_dir, list(train_ds.class_names),
                     list(train_ds.category_ids), best=best, progress=progress)
        loop.run(loader, val_ds, start)
        return run_dir
    finally:
        stack.close()
        D.cleanup(dist)


def _datasets(cfg: Config, task: Any) -> tuple[Any, Any]:
    """``(train dataset, val dataset or None)``; sets ``cfg.model.num_classes`` to K + 1 of the training data.

    Raises:
        BaisegError: the val classes differ from the training classes.
    """
    from baiseg.data import build_dataset

    train_ds = build_dataset(cfg.data.train, load_instances=task.train_instances)
    cfg.model.num_classes = len(train_ds.class_names) + 1
    val_ds = build_dataset(cfg.data.val, load_instances=True) if cfg.data.val else None
    if val_ds is not None and list(val_ds.class_names) != list(train_ds.class_names):
        raise BaisegError(f"data.val classes {val_ds.class_names} differ from data.train {train_ds.class_names}")
    return train_ds, val_ds


def _prepare_run_dir(cfg: Config, dist: D.DistInfo, resume_dir, name: str | None, start: int, stack: Any,
                     resume_overrides: list[str] | None) -> Path:  # fmt: skip
    """Rank 0 creates (or reopens) the run directory and locks it (released by ``stack``) before writing anything in
    it; the others learn its path through a broadcast."""
    from baiseg.engine.resume import RunLock, record_resume

    if resume_dir is not None:
        run_dir = Path(resume_dir)
    elif dist.is_main:
        run_dir = create_run_dir(cfg.train.out_dir, name or cfg.train.name or "run")
        write_run_info(run_dir, dump_yaml(cfg), cfg.train.seed, dist.world_size)
    else:
        run_dir = None
    if dist.distributed:
        holder = [str(run_dir) if run_dir is not None else None]
        torch.distributed.broadcast_object_list(holder, src=0)
        run_dir = Path(holder[0])
    if dist.is_main:
        stack.enter_context(RunLock(run_dir))  # before metrics.csv is touched: a second resume changes nothing
        if resume_dir is not None:
            record_resume(run_dir, cfg, list(resume_overrides or []), start)
        MetricsCSV(run_dir / "metrics.csv", resume_from=start if resume_dir is not None else None)
    return run_dir


class _Loop:
    """The iterations of one run: ``step`` (forward, backward, optimiser), ``log``, ``validate``, ``checkpoint``."""

    def __init__(self, cfg: Config, task: Any, dist: D.DistInfo, net: nn.Module, optimizer: torch.optim.Optimizer,
                 run_dir: Path, class_names: list[str], category_ids: list[int], *, best: float,
                 progress: bool) -> None:
        self.cfg, self.task, self.dist, self.net, self.optimizer = cfg, task, dist, net, optimizer
        self.model = unwrap_model(net)
        self.run_dir, self.class_names, self.category_ids, self.best = run_dir, class_names, category_ids, best
        self.progress = progress
        self.metrics = MetricsCSV(run_dir / "metrics.csv") if dist.is_main else None
        self.tb = _tensorboard(run_dir) if (cfg.train.tensorboard and dist.is_main) else None
        self.use_bf16 = cfg.train.bf16 and dist.device.type == "cuda"

    def run(self, loader: Any, val_ds: Any, start: int) -> dict[str, float]:
        t, dist = self.cfg.train, self.dist
        self.bar = tqdm(total=t.iters, initial=start, disable=not (self.progress and dist.is_main),
                        dynamic_ncols=True, desc=self.run_dir.name, file=sys.stderr, mininterval=1.0)
        batch_images = t.batch_size * t.accum_steps * dist.world_size
        it_loader = iter(loader)
        t0, done_since, last_val = time.perf_counter(), 0, {}
        self.net.train()
        for it in range(start, t.iters):
            lr = poly_lr(it, t.lr, t.iters, t.poly_power, t.warmup_iters)
            values = self.step(it_loader, it, lr)
            n = it + 1
            done_since += 1
            elapsed = time.perf_counter() - t0
            self.log(n, lr, values, done_since * batch_images / max(elapsed, 1e-9), elapsed)
            if val_ds is not None and (n % t.val_every == 0 or n == t.iters):
                last_val = self.validate(n, val_ds) or last_val
            if n % t.ckpt_every == 0 or n == t.iters:
                self.checkpoint(n)
        self.bar.close()
        if dist.is_main and val_ds is None and not (self.run_dir / "best.safetensors").exists():
            # without validation data the last weights are the released ones
            self._save_weights("best.safetensors", {"iteration": t.iters})
        if dist.is_main:
            plot_metrics(self.run_dir / "metrics.csv")
        if self.tb is not None:
            self.tb.close()
        return last_val

    def step(self, it_loader: Any, it: int, lr: float) -> dict[str, float]:
        """One optimiser step over ``accum_steps`` micro-batches; returns the mean losses (all ranks)."""
        t, dist, keys = self.cfg.train, self.dist, self.task.loss_keys
        set_lr(self.optimizer, lr)
        self.optimizer.zero_grad(set_to_none=True)
        sums = torch.zeros(len(keys), device=dist.device)
        for micro in range(t.accum_steps):
            batch = self.task.to_device(next(it_loader), dist.device)
            sync = micro == t.accum_steps - 1 or not dist.distributed
            with self.net.no_sync() if not sync else _null():
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.use_bf16):
                    losses = self.task.losses(self.net, batch, it)
                (losses["loss"] / t.accum_steps).backward()
            sums += torch.stack([losses[k].detach().float() for k in keys]) / t.accum_steps
        values = dict(zip(keys, D.all_reduce_mean(sums, dist).tolist()))
        if not all(math.isfinite(v) for v in values.values()):
            self.bar.close()
            raise TrainingDiverged(f"non-finite loss at iteration {it + 1}: "
                                   + ", ".join(f"{k}={v:.4g}" for k, v in values.items())
                                   + " (lower train.lr, set train.clip_grad_norm, or check the labels)")
        if t.clip_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), t.clip_grad_norm)
        self.optimizer.step()
        return values

    def log(self, n: int, lr: float, values: dict[str, float], speed: float, elapsed: float) -> None:
        """Progress bar every iteration; metrics.csv (and TensorBoard) every ``log_every`` and at the end."""
        self.bar.update(1)
        parts = [f"{k.removeprefix('loss_')} {v:.3f}" for k, v in values.items()]
        self.bar.set_postfix_str(" ".join(parts) + f" {speed:.1f} img/s", False)
        t = self.cfg.train
        if self.metrics is not None and (n % t.log_every == 0 or n == t.iters):
            self.metrics.append({"iteration": n, "lr": lr, **values, "images_per_s": speed, "elapsed_s": elapsed})
            if self.tb is not None:
                for k, v in values.items():
                    self.tb.add_scalar(f"train/{k}", v, n)
                self.tb.add_scalar("train/lr", lr, n)

    def validate(self, n: int, val_ds: Any) -> dict[str, float]:
        """Rank 0 validates, logs, plots and keeps ``best.safetensors``; the other ranks wait."""
        result: dict[str, float] = {}
        if self.dist.is_main:
            result = self.task.validate(self.model, val_ds, self.dist.device)
            self.metrics.append({"iteration": n, **result})
            if self.tb is not None:
                for k, v in result.items():
                    self.tb.add_scalar(f"val/{k}", v, n)
            if get_architecture(self.cfg.model.arch).maps and self.cfg.train.val_images > 0:  # val_images.py
                save_val_images(self.model, val_ds, self.cfg, self.dist.device, self.run_dir, n, self.tb)
            if self.tb is not None:
                self.tb.flush()
            self.bar.write(f"[{n}] " + " ".join(f"{k}={v:.4f}" for k, v in result.items()), file=sys.stderr)
            plot_metrics(self.run_dir / "metrics.csv")
            key = self.cfg.train.best_metric
            score = result.get(key, -math.inf)
            if score > self.best:
                self.best = score
                self._save_weights("best.safetensors", {"iteration": n, key: score})
        D.barrier(self.dist)
        return result

    def checkpoint(self, n: int) -> None:
        """``last.safetensors`` and the resumable ``checkpoint.pt`` (both atomic)."""
        if self.dist.is_main:
            self._save_weights("last.safetensors", {"iteration": n})
            save_checkpoint(self.run_dir / "checkpoint.pt", model_state=self.model.state_dict(),
                            optimizer_state=self.optimizer.state_dict(), iteration=n, config_yaml=dump_yaml(self.cfg),
                            extra={"best": self.best, "class_names": self.class_names,
                                   "category_ids": self.category_ids})
        D.barrier(self.dist)

    def _save_weights(self, filename: str, extra: dict[str, Any]) -> None:
        save_weights(self.run_dir / filename, self.model, self.cfg, self.class_names, self.category_ids, extra=extra)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _tensorboard(run_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard not installed
        print("train.tensorboard=true but tensorboard is not installed; logging to metrics.csv only", file=sys.stderr)
        return None
    return SummaryWriter(str(run_dir / "tb"))
