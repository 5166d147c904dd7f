"""Ablation sweeps: one training per row (a grid point or a named row), each evaluated the same way, one table.

A sweep is a base config (preset + ``key=value`` overrides) and a list of rows, each a set of overrides, repeated
for every seed (``train.seed``); ``sweep_spec.py`` reads and plans it, this module runs it and writes the table.
Every (row, seed) is trained with ``baiseg.engine.trainer.train`` under
``OUT/runs/`` and its ``last.safetensors`` evaluated on ``data.val`` through the one scheduler (``_voc``: VOC mAP^r,
with ground-truth and with the model's semantics, the network maps from a ``MapCache``). ``mep.*`` overrides are
evaluation-time settings: they are not part of the training, so rows that differ only in ``mep.*`` keys share one
training run (Table 3's refinement row reuses the weights of the row before it).

Layout of ``OUT``::

    runs/<row>_s<seed>-NNN/      run folders of the trainer (config, metrics.csv, checkpoint.pt, *.safetensors)
    state/<row>_s<seed>.json     one state file per training: its config, status, run folder, wall time segments
    evals/<row>_s<seed>.json     one evaluation per (row, seed); its presence means "done"
    evals/baseline_<method>.json reference rows (cc / dtws with ground-truth semantics)
    maps/                        network maps cached per weights file (``baiseg.evaluation.maps.MapCache``)
    sweep.json, sweep.md         the table (rewritten atomically after every evaluation)

Resuming: rerunning the same sweep into the same ``OUT`` skips every (row, seed) whose evaluation exists, evaluates a
finished training that was not yet evaluated, continues a half-finished training from its ``checkpoint.pt`` and
restarts one that stopped before its first checkpoint. A state file written with other settings is an error, so a
changed schedule never silently mixes with old runs.

Sharing between sweeps: with ``reuse`` (``--reuse DIR``), a training without a checkpoint of its own whose identity
(``training_identity``: the resolved config minus run folder, name, threads, workers and MEP) equals a finished
training of another sweep folder takes that run's weights instead of training again (e.g. Table 7's T = 0.2 is Table
3's "+PPC"); its state file records ``reused_from``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from baiseg.config import Config, ConfigError, config_from_dict, dump_yaml, mep_with_overrides
from baiseg.experiments.sweep_spec import (
    METRICS,
    SEMANTICS,
    SweepRow,
    SweepSpec,
    _Training,
    training_identity,
)
from baiseg.experiments.sweep_table import _f, _images, render_markdown, spread
from baiseg.fileio import write_json_atomic, write_text_atomic
from baiseg.yamlio import load_yaml_text


class Sweep:
    """Runs (or resumes) a sweep; see the module docstring.

    Args:
        spec: the sweep.
        build_fn: model factory passed to the trainer and to ``load_weights`` (default ``build_model``).
        progress: show the trainer's progress bars.
        log: where progress lines go (default ``print``).
    """

    def __init__(self, spec: SweepSpec, *, build_fn: Callable[[Any], Any] | None = None, progress: bool = True,
                 log: Callable[[str], None] | None = None) -> None:  # fmt: skip
        self.spec = spec
        self.out = Path(spec.out)
        self.build_fn = build_fn
        self.progress = progress
        self.log = log or (lambda s: print(s, flush=True))
        self.trainings = spec.plan()
        self.slugs = spec.row_slugs()
        self._samples: list[dict[str, Any]] | None = None
        self._val = None

    # ---- paths
    def _state_path(self, tr: _Training) -> Path:
        return self.out / "state" / f"{tr.name}.json"

    def _eval_path(self, row: SweepRow, seed: int) -> Path:
        return self.out / "evals" / f"{self.slugs[row.name]}_s{seed}.json"

    # ---- running
    def run(self) -> dict[str, Any]:
        """Train and evaluate whatever is not done yet; return the table (also written to sweep.json / .md)."""
        self.out.mkdir(parents=True, exist_ok=True)
        self.check_states()  # refuse a changed sweep before any work
        for method in self.spec.baselines:
            self._baseline(method)
        total = len(self.trainings)
        for i, tr in enumerate(self.trainings, 1):
            label = f"[sweep {i}/{total}] {tr.name} ({', '.join(r.name for r in tr.rows)}; seed {tr.seed})"
            todo = [r for r in tr.rows if not self._eval_path(r, tr.seed).is_file()]
            if not todo:
                self.log(f"{label}: done, skipped")
                continue
            run_dir = self._train(tr, label)
            for row in todo:
                self._evaluate(tr, row, run_dir, label)
                self.write_table()
        table = self.write_table()
        self.log(f"[sweep] wrote {self.out / 'sweep.md'} and {self.out / 'sweep.json'}")
        return table

    def check_states(self) -> None:
        """Raise ``ConfigError`` if the folder holds runs of this sweep's names made with other settings."""
        for tr in self.trainings:
            self._check_state(tr)

    def _check_state(self, tr: _Training) -> None:
        path = self._state_path(tr)
        if path.is_file():
            state = json.loads(path.read_text())
            if state.get("key") != tr.key:
                raise ConfigError(f"'{self.out}' holds run '{tr.name}' made with other settings (state {path}): "
                                  "use a new --out, or the same config, overrides and rows as before")  # fmt: skip

    def _load_state(self, tr: _Training) -> dict[str, Any]:
        path = self._state_path(tr)
        if path.is_file():
            return json.loads(path.read_text())
        return {"name": tr.name, "seed": tr.seed, "key": tr.key, "rows": [r.name for r in tr.rows],
                "config": dump_yaml(tr.cfg), "status": "new", "run_dir": None, "segments": []}  # fmt: skip

    def _save_state(self, tr: _Training, state: dict[str, Any]) -> None:
        write_json_atomic(self._state_path(tr), state, indent=2)

    def _find_run_dir(self, tr: _Training, state: dict[str, Any]) -> Path | None:
        """The run folder holding this training's checkpoint (the state's, else the newest ``runs/<name>-NNN``)."""
        if state.get("run_dir") and (Path(state["run_dir"]) / "checkpoint.pt").is_file():
            return Path(state["run_dir"])
        found = []
        for p in (self.out / "runs").glob(f"{tr.name}-*"):
            tail = p.name[len(tr.name) + 1:]
            if tail.isdigit() and (p / "checkpoint.pt").is_file():
                found.append((int(tail), p))
        return max(found)[1] if found else None

    def _reusable(self, tr: _Training) -> tuple[dict[str, Any], Path] | None:
        """A finished training of a ``--reuse`` sweep folder with the same training identity as ``tr``, or None."""
        if not self.spec.reuse:
            return None

        want = training_identity(tr.cfg)
        for folder in self.spec.reuse:
            for path in sorted((Path(folder) / "state").glob("*.json")):
                try:
                    other = json.loads(path.read_text())
                    cfg = config_from_dict(load_yaml_text(other["config"], f"'{path}'", ConfigError))
                except (OSError, ValueError, KeyError, TypeError, ConfigError):
                    continue  # not a sweep state file, or one from an incompatible version: never reused
                if (other.get("status") == "trained" and other.get("run_dir")
                        and (Path(other["run_dir"]) / "last.safetensors").is_file()
                        and training_identity(cfg) == want):  # fmt: skip
                    return other, path
        return None

    def _train(self, tr: _Training, label: str) -> Path:
        """Train ``tr`` to the end (new, resumed or already finished) and return its run folder."""
        from baiseg.engine import trainer

        state = self._load_state(tr)
        if state["status"] == "trained" and (Path(state["run_dir"]) / "last.safetensors").is_file():
            self.log(f"{label}: trained before ({state['run_dir']}), evaluating")
            return Path(state["run_dir"])
        segs = state["segments"]
        if self._find_run_dir(tr, state) is None:  # nothing of its own to resume: another sweep's may serve
            found = self._reusable(tr)
            if found is not None:
                other_state, other_path = found
                state.update(status="trained", run_dir=other_state["run_dir"], reused_from=str(other_path),
                             train_wall_s=other_state.get("train_wall_s"),
                             segments=other_state.get("segments", []))  # fmt: skip
                self._save_state(tr, state)
                self.log(f"{label}: the same training as '{other_state['name']}' of {other_path.parent.parent} "
                         f"(--reuse), using {state['run_dir']}")  # fmt: skip
                return Path(state["run_dir"])
        if segs and segs[-1].get("end") is None:  # the previous process died: count it up to its last checkpoint
            run_dir = self._find_run_dir(tr, state)
            last = (run_dir / "checkpoint.pt").stat().st_mtime if run_dir is not None else segs[-1]["start"]
            segs[-1]["end"] = max(segs[-1]["start"], last)
            segs[-1]["killed"] = True
        run_dir = self._find_run_dir(tr, state)
        start = time.time()
        if run_dir is not None:
            cfg = trainer.resume_config(run_dir)
            from baiseg.engine.checkpoint import load_checkpoint

            done = int(load_checkpoint(run_dir / "checkpoint.pt")["iteration"])
            self.log(f"{label}: resuming {run_dir} from iteration {done}/{cfg.train.iters}")
            state.update(status="training", run_dir=str(run_dir))
            segs.append({"start": start, "end": None, "from_iteration": done})
            self._save_state(tr, state)
            trainer.train(cfg, resume_dir=run_dir, build_fn=self.build_fn, progress=self.progress)
        else:
            if state["status"] != "new":
                self.log(f"{label}: no checkpoint was written before the stop, restarting")
            self.log(f"{label}: training {tr.cfg.train.iters} iterations into {self.out / 'runs'}/{tr.name}-NNN")
            state.update(status="training", run_dir=None)
            segs.append({"start": start, "end": None, "from_iteration": 0})
            self._save_state(tr, state)
            run_dir = trainer.train(_copy(tr.cfg), name=tr.name, build_fn=self.build_fn, progress=self.progress)
        segs[-1]["end"] = time.time()
        state.update(status="trained", run_dir=str(run_dir),
                     train_wall_s=round(sum(s["end"] - s["start"] for s in segs), 1))  # fmt: skip
        self._save_state(tr, state)
        self.log(f"{label}: trained in {state['train_wall_s']:.0f} s ({run_dir})")
        return run_dir

    # ---- evaluation
    def _val_samples(self, cfg: Config) -> tuple[list[dict[str, Any]], Any]:
        if self._samples is None:
            from baiseg.data import build_dataset

            ds = build_dataset(cfg.data.val)
            n = len(ds) if self.spec.limit <= 0 else min(self.spec.limit, len(ds))
            self._samples, self._val = [ds[i] for i in range(n)], ds
        return self._samples, self._val

    def _device(self) -> str:
        from baiseg.devices import resolve_device

        return resolve_device(self.spec.device, "--device")

    def _baseline(self, method: str) -> None:
        from baiseg.inference.baselines import BaselineSegmenter

        path = self.out / "evals" / f"baseline_{method}.json"
        if path.is_file():
            return
        cfg = self.trainings[0].cfg
        samples, ds = self._val_samples(cfg)
        self.log(f"[sweep] reference row: {method} with ground-truth semantics on {cfg.data.val}")
        start = time.perf_counter()
        res = _voc(samples, BaselineSegmenter(method, list(ds.class_names), cfg.mep), "gt", ds)
        write_json_atomic(path, {"method": method, "semantic": "gt", "images": res["images"],
                                 "gt": {k: res["voc"][k] for k in METRICS},
                                 "eval_wall_s": round(time.perf_counter() - start, 2)}, indent=2)  # fmt: skip

    def _evaluate(self, tr: _Training, row: SweepRow, run_dir: Path, label: str) -> None:
        from baiseg.evaluation.maps import MapCache, weights_digest
        from baiseg.models.complexity import model_complexity
        from baiseg.predictor import Predictor
        from baiseg.weights_io import load_weights

        weights = run_dir / "last.safetensors"
        samples, ds = self._val_samples(tr.cfg)
        start = time.perf_counter()
        device = self._device()
        model, meta = load_weights(weights, device=device, build_fn=self.build_fn)
        pred = Predictor(model, meta["class_names"], meta.get("category_ids"), mep=meta["config"].mep, device=device)
        pred = pred.for_classes(list(ds.class_names), list(ds.category_ids))
        if row.mep_overrides:
            pred = pred.with_mep(**vars(mep_with_overrides(pred.mep, row.mep_overrides)))
        cache = MapCache(self.out / "maps" / f"{tr.name}-{weights_digest(weights)}", pred, weights)
        self.log(f"{label}: evaluating row '{row.name}' on {len(samples)} images of {tr.cfg.data.val}"
                 + (f" ({' '.join(row.mep_overrides)})" if row.mep_overrides else ""))  # fmt: skip
        scores = {}
        for semantic in SEMANTICS:
            res = _voc(samples, CachedMaps(pred, cache), semantic, ds)
            scores[semantic] = {k: res["voc"][k] for k in ("mAP25", "mAP50", "mAP70", "mAP75")}
        comp = model_complexity(meta["config"].model, self.spec.size)
        state = self._load_state(tr)
        record = {
            "row": row.name, "seed": tr.seed, "training": tr.name, "run_dir": str(run_dir), "weights": str(weights),
            "overrides": row.overrides, "mep_overrides": row.mep_overrides, "images": len(samples),
            "gt": scores["gt"], "model": scores["model"],
            "params": comp["total"]["params"], "macs": comp["total"]["macs"], "iabm_macs": comp["iabm"]["macs"],
            "iabm_params": comp["iabm"]["params"],
            "size": self.spec.size, "train_wall_s": state.get("train_wall_s"),
            "killed_segments": sum(1 for s in state.get("segments", []) if s.get("killed")),
            "eval_wall_s": round(time.perf_counter() - start, 2),
        }  # fmt: skip
        write_json_atomic(self._eval_path(row, tr.seed), record, indent=2)
        self.log(f"{label}: '{row.name}' mAP50/75 gt {_f(scores['gt']['mAP50'])}/{_f(scores['gt']['mAP75'])}, "
                 f"model {_f(scores['model']['mAP50'])}/{_f(scores['model']['mAP75'])}")  # fmt: skip

    # ---- the table
    def collect(self) -> dict[str, Any]:
        """The table as a JSON-able dict, from the evaluation files present now."""
        seeds = sorted({tr.seed for tr in self.trainings})
        shared = {}
        rows = []
        for row in self.spec.rows:
            runs, trained_as = [], None
            for tr in self.trainings:
                if row in tr.rows:
                    trained_as = tr.rows[0].name
                    path = self._eval_path(row, tr.seed)
                    if path.is_file():
                        runs.append(json.loads(path.read_text()))
            if trained_as != row.name:
                shared[row.name] = trained_as
            summary = {f"{sem}_{m}": spread([r[sem][m] for r in runs]) for sem in SEMANTICS for m in METRICS}
            summary["train_wall_s"] = spread([r["train_wall_s"] for r in runs])
            rows.append({
                "name": row.name, "overrides": row.overrides, "trained_as": trained_as, "seeds_done": len(runs),
                "params": runs[0]["params"] if runs else None, "macs": runs[0]["macs"] if runs else None,
                "iabm_macs": runs[0]["iabm_macs"] if runs else None,
                "iabm_params": runs[0].get("iabm_params") if runs else None, "summary": summary, "runs": runs,
            })  # fmt: skip
        baselines = []
        for method in self.spec.baselines:
            path = self.out / "evals" / f"baseline_{method}.json"
            if path.is_file():
                baselines.append(json.loads(path.read_text()))
        cfg = self.trainings[0].cfg
        complete = all(r["seeds_done"] == len(seeds) for r in rows) and len(baselines) == len(self.spec.baselines)
        return {
            "config": _config_name(self.spec.config), "overrides": self.spec.overrides,
            "description": self.spec.description,
            "seeds": seeds, "data_train": cfg.data.train, "data_val": cfg.data.val, "iters": cfg.train.iters,
            "batch_size": cfg.train.batch_size, "crop_size": cfg.data.crop_size, "weights": "last.safetensors",
            "eval_images": _images(rows, baselines), "complexity_size": self.spec.size, "rows": rows,
            "baselines": baselines, "shared_training": shared, "complete": complete,
        }  # fmt: skip

    def write_table(self) -> dict[str, Any]:
        """Write ``sweep.json`` and ``sweep.md`` atomically; return the JSON dict."""
        table = self.collect()
        write_json_atomic(self.out / "sweep.json", table, indent=2)
        write_text_atomic(self.out / "sweep.md", render_markdown(table))
        return table


def _config_name(config: str | Path) -> str:
    """A shipped preset by its name (``cpu_lite0``), any other config file by its path as given."""
    from baiseg.config import CONFIGS_DIR

    p = Path(config)
    return p.stem if p.suffix in (".yaml", ".yml") and p.resolve().parent == CONFIGS_DIR.resolve() else str(config)


def _copy(cfg: Config) -> Config:
    import copy

    return copy.deepcopy(cfg)


def _voc(samples: list[dict[str, Any]], segmenter: Any, semantic: str, ds: Any) -> dict[str, Any]:
    """VOC mAP^r (no COCO) of ``segmenter`` on ``samples`` with the GT semantic map (``gt``) or none (``model``):
    ``inference.scoring.score_samples``, one scheduler run."""
    from baiseg.evaluation.run import SubsetEvaluators
    from baiseg.inference.scoring import score_samples

    ev = SubsetEvaluators(list(ds.class_names), list(ds.category_ids), coco=False)
    return score_samples(samples, segmenter, semantic, ev)["all"]


class CachedMaps:
    """A ``Predictor`` whose network maps come from a ``MapCache`` (computed and stored on a miss): ``forward``
    makes the MEP jobs from the cached maps, ``finish`` is the predictor's (the MEP at the image's size)."""

    def __init__(self, predictor: Any, cache: Any) -> None:
        self.predictor, self.cache = predictor, cache
        self.class_names, self.preparer = predictor.class_names, predictor.preparer

    def prepare(self, item: Any) -> Any:
        return self.preparer(item)

    def forward(self, batch: list[Any]) -> list[Any]:
        return [self.predictor.job_from_maps(self.cache.maps(p.extras["sample"]), p.rgb.shape[:2],
                                             semantic=p.semantic, image=p.rgb, index=p.index, image_id=p.image_id)
                for p in batch]  # fmt: skip

    @staticmethod
    def finish(job: Any) -> Any:
        from baiseg.predictor import Predictor

        return Predictor.finish(job)
