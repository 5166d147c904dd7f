"""Iteration-based training loop (paper §4.2): Adam, poly LR, gradient accumulation, bf16 autocast on CUDA, DDP.

``train(cfg)`` starts a new run directory; ``train(cfg, resume_dir=...)`` continues one from its ``checkpoint.pt``
with the same iteration counter, schedule, optimiser state, RNG states and data order.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn
from tqdm import tqdm

from baiseg.config import Config, config_from_dict, dump_yaml, parse_overrides
from baiseg.engine import distributed as D
from baiseg.engine.checkpoint import load_checkpoint, save_checkpoint, set_rng_state
from baiseg.engine.data import SeededStream, train_loader
from baiseg.engine.plot import plot_metrics
from baiseg.engine.run_dir import MetricsCSV, create_run_dir, write_run_info
from baiseg.engine.schedule import poly_lr, set_lr
from baiseg.engine.validate import has_instance_gt, resolve_best_metric, validate
from baiseg.engine.weights import save_weights, unwrap_model
from baiseg.errors import BaisegError
from baiseg.losses import BAISegCriterion

LOSS_KEYS = ("loss", "loss_boundary", "loss_contrast", "loss_sem")


class TrainingDiverged(BaisegError):
    """The loss became NaN or infinite."""


def resume_config(run_dir: str | Path, overrides: list[str] | None = None) -> Config:
    """The config stored in ``run_dir/checkpoint.pt`` with optional ``key=value`` overrides on top."""
    ckpt_path = Path(run_dir) / "checkpoint.pt"
    if not Path(run_dir).is_dir():
        raise BaisegError(f"--resume: '{run_dir}' is not a directory; give a run folder such as runs/cpu_lite0-001")
    if not ckpt_path.is_file():
        raise BaisegError(f"--resume: '{run_dir}' holds no checkpoint.pt (the run stopped before its first checkpoint)")
    tree = yaml.safe_load(load_checkpoint(ckpt_path)["config"]) or {}
    cfg = config_from_dict(tree)
    if overrides:
        from baiseg.config import _apply

        _apply(cfg, parse_overrides(overrides), "", "command line")
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


def _train_transform(cfg: Config, model: nn.Module) -> Callable[..., dict]:
    from baiseg.data.transforms import TrainTransform

    mean, std = model.input_norm
    return TrainTransform.from_config(cfg.data, mean=mean, std=std)


def train(
    cfg: Config,
    *,
    resume_dir: str | Path | None = None,
    name: str | None = None,
    build_fn: Callable[[Any], nn.Module] | None = None,
    progress: bool = True,
) -> Path:
    """Train (or resume) and return the run directory.

    Args:
        cfg: the resolved config (for a resume: ``resume_config(run_dir)``).
        resume_dir: a run directory holding ``checkpoint.pt`` to continue.
        name: run folder prefix for a new run (default ``cfg.train.name`` or ``"run"``).
        build_fn: model factory from ``cfg.model`` (default ``baiseg.models.build_model``).
        progress: show a tqdm bar on rank 0.

    Raises:
        TrainingDiverged: a loss became non-finite (the loss dict is in the message).
    """
    from baiseg.data import build_dataset

    if build_fn is None:
        from baiseg.models import build_model as build_fn
    t = cfg.train
    if t.threads > 0:
        torch.set_num_threads(t.threads)
    dist = D.init_distributed(t.device)
    try:
        train_ds = build_dataset(cfg.data.train, load_instances=False)
        cfg.model.num_classes = len(train_ds.class_names) + 1
        val_ds = build_dataset(cfg.data.val, load_instances=True) if cfg.data.val else None
        if val_ds is not None and list(val_ds.class_names) != list(train_ds.class_names):
            raise BaisegError(f"data.val classes {val_ds.class_names} differ from data.train {train_ds.class_names}")
        if val_ds is not None:  # "auto" -> the key itself, so config.yaml and the checkpoint record it
            t.best_metric = resolve_best_metric(t.best_metric, has_instance_gt(val_ds))
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
        run_dir = _prepare_run_dir(cfg, dist, resume_dir, name, start)
        stream = SeededStream(train_ds, _train_transform(cfg, model), t.seed)
        loader = train_loader(stream, cfg, start, dist.rank, dist.world_size)
        net = model
        if dist.distributed:
            net = nn.parallel.DistributedDataParallel(
                model, device_ids=[dist.device.index] if dist.device.type == "cuda" else None)
        _loop(cfg, dist, net, optimizer, loader, val_ds, run_dir, start, best,
              list(train_ds.class_names), list(train_ds.category_ids), progress)
        return run_dir
    finally:
        D.cleanup(dist)


def _prepare_run_dir(cfg: Config, dist: D.DistInfo, resume_dir, name: str | None, start: int) -> Path:
    """Rank 0 creates (or reopens) the run directory; the others learn its path through a broadcast."""
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
        MetricsCSV(run_dir / "metrics.csv", resume_from=start if resume_dir is not None else None)
    return run_dir


def _loop(cfg, dist, net, optimizer, loader, val_ds, run_dir, start, best, class_names, category_ids, progress):
    t = cfg.train
    model = unwrap_model(net)
    criterion = BAISegCriterion(cfg.loss)
    metrics = MetricsCSV(run_dir / "metrics.csv") if dist.is_main else None
    use_bf16 = t.bf16 and dist.device.type == "cuda"
    batch_images = t.batch_size * t.accum_steps * dist.world_size
    bar = tqdm(total=t.iters, initial=start, disable=not (progress and dist.is_main), dynamic_ncols=True,
               desc=run_dir.name, file=sys.stderr, mininterval=1.0)
    it_loader = iter(loader)
    tb = _tensorboard(run_dir) if (t.tensorboard and dist.is_main) else None
    t0, done_since, last_val = time.perf_counter(), 0, {}
    net.train()
    for it in range(start, t.iters):
        lr = poly_lr(it, t.lr, t.iters, t.poly_power, t.warmup_iters)
        set_lr(optimizer, lr)
        optimizer.zero_grad(set_to_none=True)
        sums = torch.zeros(len(LOSS_KEYS), device=dist.device)
        for micro in range(t.accum_steps):
            batch = {k: v.to(dist.device, non_blocking=True) for k, v in next(it_loader).items()}
            sync = micro == t.accum_steps - 1 or not dist.distributed
            ctx = net.no_sync() if not sync else _null()
            with ctx:
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_bf16):
                    outputs = net(batch["image"])
                losses = criterion(outputs, batch, iteration=it)
                (losses["loss"] / t.accum_steps).backward()
            sums += torch.stack([losses[k].detach().float() for k in LOSS_KEYS]) / t.accum_steps
        sums = D.all_reduce_mean(sums, dist)
        values = dict(zip(LOSS_KEYS, sums.tolist()))
        if not all(math.isfinite(v) for v in values.values()):
            bar.close()
            raise TrainingDiverged(f"non-finite loss at iteration {it + 1}: "
                                   + ", ".join(f"{k}={v:.4g}" for k, v in values.items())
                                   + " (lower train.lr, set train.clip_grad_norm, or check the labels)")
        if t.clip_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(net.parameters(), t.clip_grad_norm)
        optimizer.step()
        n = it + 1
        done_since += 1
        bar.update(1)
        elapsed = time.perf_counter() - t0
        speed = done_since * batch_images / max(elapsed, 1e-9)
        bar.set_postfix_str(f"loss {values['loss']:.3f} B {values['loss_boundary']:.4f} "
                            f"P {values['loss_contrast']:.3f} S {values['loss_sem']:.3f} {speed:.1f} img/s", False)
        if metrics is not None and (n % t.log_every == 0 or n == t.iters):
            metrics.append({"iteration": n, "lr": lr, **values, "images_per_s": speed, "elapsed_s": elapsed})
            if tb is not None:
                for k, v in values.items():
                    tb.add_scalar(f"train/{k}", v, n)
                tb.add_scalar("train/lr", lr, n)
        if val_ds is not None and (n % t.val_every == 0 or n == t.iters):
            if dist.is_main:
                last_val = validate(model, val_ds, cfg, dist.device, cfg.model.num_classes)
                metrics.append({"iteration": n, **last_val})
                bar.write(f"[{n}] " + " ".join(f"{k}={v:.4f}" for k, v in last_val.items()), file=sys.stderr)
                plot_metrics(run_dir / "metrics.csv")
                score = last_val.get(t.best_metric, -math.inf)
                if score > best:
                    best = score
                    save_weights(run_dir / "best.safetensors", model, cfg, class_names, category_ids,
                                 extra={"iteration": n, t.best_metric: score})
            D.barrier(dist)
        if n % t.ckpt_every == 0 or n == t.iters:
            if dist.is_main:
                save_weights(run_dir / "last.safetensors", model, cfg, class_names, category_ids,
                             extra={"iteration": n})
                save_checkpoint(run_dir / "checkpoint.pt", model_state=model.state_dict(),
                                optimizer_state=optimizer.state_dict(), iteration=n, config_yaml=dump_yaml(cfg),
                                extra={"best": best, "class_names": class_names, "category_ids": category_ids})
            D.barrier(dist)
    bar.close()
    if dist.is_main and val_ds is None and not (run_dir / "best.safetensors").exists():
        # without validation data the last weights are the released ones
        save_weights(run_dir / "best.safetensors", model, cfg, class_names, category_ids, extra={"iteration": t.iters})
    if dist.is_main:
        plot_metrics(run_dir / "metrics.csv")
    return last_val


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
