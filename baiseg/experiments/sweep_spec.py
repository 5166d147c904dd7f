"""What a sweep runs: its rows (a grid or a rows file), its base config and seeds, and the plan of trainings.

``baiseg.experiments.sweep`` runs the plan; this module only reads and checks what the user gave, so that a bad row or
override is refused before any work (docs/ABLATIONS.md).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baiseg.config import Config, ConfigError, dump_yaml, load_config, load_yaml, mep_with_overrides

#: Keys the sweep sets itself for every run.
RESERVED_KEYS = ("train.out_dir", "train.name")
#: Keys that change how fast a run goes, not what it computes (the data stream does not depend on the worker count):
#: they are left out of the resumability check, so a paused sweep may continue with other thread / worker counts.
RESOURCE_KEYS = ("train.threads", "data.num_workers")


def training_identity(cfg: Config) -> str:
    """A digest of everything that makes a training what it is: the resolved config without its run folder, name,
    thread and worker counts, nor the evaluation-time ``mep`` section. Two sweeps' trainings with the same identity
    are the same training (``--reuse``)."""
    import copy

    c = copy.deepcopy(cfg)
    c.train.out_dir, c.train.name = "", ""
    defaults = Config()
    for key in RESOURCE_KEYS:
        section, name = key.split(".")
        setattr(getattr(c, section), name, getattr(getattr(defaults, section), name))
    c.mep = defaults.mep
    return hashlib.sha256(dump_yaml(c).encode()).hexdigest()
METRICS = ("mAP50", "mAP75")
SEMANTICS = ("gt", "model")


@dataclass
class SweepRow:
    """One row of the table: a name and its ``key=value`` overrides (on top of the base config)."""

    name: str
    overrides: list[str] = field(default_factory=list)

    @property
    def train_overrides(self) -> list[str]:
        """The overrides that change the training (everything but ``mep.*``)."""
        return [o for o in self.overrides if not o.split("=", 1)[0].strip().startswith("mep.")]

    @property
    def mep_overrides(self) -> list[str]:
        """The evaluation-time overrides (``mep.*``): applied to the trained weights' MEP settings."""
        return [o for o in self.overrides if o.split("=", 1)[0].strip().startswith("mep.")]


def _value_text(value: Any) -> str:
    """A YAML scalar as override text that ``parse_overrides`` reads back to the same value."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)) or value is None:
        return json.dumps(value)
    raise ConfigError(f"row value {value!r}: give a scalar (number, string, true/false, null)")


def _flatten(tree: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, value in tree.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            out += _flatten(value, full + ".")
        else:
            out.append(f"{full}={_value_text(value)}")
    return out


def parse_grid(items: Sequence[str]) -> list[SweepRow]:
    """``["model.iabm_r=1,2", "loss.temperature=0.1,0.2"]`` -> the rows of their cartesian product, in order.

    Raises:
        ConfigError: an item is not ``KEY=V1,V2,...``, has an empty value, or a key appears twice.
    """
    axes: list[tuple[str, list[str]]] = []
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--grid '{item}': expected KEY=V1,V2,... (e.g. model.iabm_r=1,2,4)")
        key, raw = (s.strip() for s in item.split("=", 1))
        values = [v.strip() for v in raw.split(",")]
        if not key:
            raise ConfigError(f"--grid '{item}': the key is empty; expected KEY=V1,V2,...")
        if not raw or any(v == "" for v in values):
            raise ConfigError(f"--grid '{item}': empty value; give comma-separated values such as {key}=1,2")
        if key in (k for k, _ in axes):
            raise ConfigError(f"--grid: key '{key}' is given twice; put all its values in one --grid {key}=V1,V2")
        if len(set(values)) != len(values):
            raise ConfigError(f"--grid '{item}': a value is repeated")
        axes.append((key, values))
    rows = []
    for combo in itertools.product(*(vals for _, vals in axes)):
        overrides = [f"{k}={v}" for (k, _), v in zip(axes, combo, strict=True)]
        rows.append(SweepRow(" ".join(overrides), overrides))
    return rows


def load_rows(path: str | Path) -> tuple[list[SweepRow], str]:
    """Read a rows file: ``{"description": str (optional), "rows": {name: {key: value, ...}, ...}}``.

    Keys may be dotted (``model.use_cfm: false``) or nested (``model: {use_cfm: false}``); a row may be empty (the
    base config). Returns ``(rows, description)``.

    Raises:
        ConfigError: the file is missing, malformed, or has no rows.
    """
    tree = load_yaml(path)
    unknown = set(tree) - {"rows", "description"}
    if unknown:
        raise ConfigError(f"rows file '{path}': unknown top-level keys {sorted(unknown)}; expected rows, description")
    rows_tree = tree.get("rows")
    if not isinstance(rows_tree, dict) or not rows_tree:
        raise ConfigError(f"rows file '{path}': 'rows' must be a non-empty mapping of row name -> overrides")
    rows = []
    for name, overrides in rows_tree.items():
        if overrides is None:
            overrides = {}
        if not isinstance(overrides, dict):
            raise ConfigError(f"rows file '{path}': row '{name}' must map keys to values, got {overrides!r}")
        rows.append(SweepRow(str(name), _flatten(overrides)))
    return rows, str(tree.get("description") or "")


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:48] or "row"


@dataclass
class _Training:
    """One training run (shared by the rows whose training overrides are equal)."""

    name: str  # run folder prefix and state file stem
    seed: int
    cfg: Config
    key: str  # digest of the sweep's inputs for this training (config file text, overrides, seed); see plan()
    rows: list[SweepRow]


@dataclass
class SweepSpec:
    """Everything a sweep needs; ``plan()`` validates it and lists the trainings."""

    config: str | Path
    rows: list[SweepRow]
    out: Path
    overrides: list[str] = field(default_factory=list)
    seeds: list[int] | None = None
    baselines: list[str] = field(default_factory=list)
    size: int = 416
    limit: int = 0
    device: str = "auto"
    description: str = ""
    reuse: list[Path] = field(default_factory=list)

    def row_config(self, row: SweepRow, seed: int | None) -> Config:
        """The training config of ``row`` at ``seed`` (None: the config's own seed), before out_dir/name are set."""
        extra = [f"train.seed={seed}"] if seed is not None else []
        try:
            return load_config(self.config, list(self.overrides) + row.train_overrides + extra)
        except ConfigError as e:
            raise ConfigError(f"row '{row.name}': {e}") from None

    def row_slugs(self) -> dict[str, str]:
        """Row name -> a unique file-name-safe slug (``+CFM`` -> ``cfm``; a collision gets a number)."""
        out: dict[str, str] = {}
        for row in self.rows:
            base = slug = _slug(row.name)
            n = 2
            while slug in out.values():
                slug, n = f"{base}-{n}", n + 1
            out[row.name] = slug
        return out

    def _check_settings(self) -> None:
        """The checks of ``plan`` that need no config: rows, reserved keys, baselines, size, limit, MEP overrides."""
        if not self.rows:
            raise ConfigError("the sweep has no rows: give --grid KEY=V1,V2 or --rows FILE.yaml")
        names = [r.name for r in self.rows]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"row names must be unique, repeated: {', '.join(dup)}")
        for o in list(self.overrides) + [o for r in self.rows for o in r.overrides]:
            key = o.split("=", 1)[0].strip()
            if key in RESERVED_KEYS:
                raise ConfigError(f"'{key}' is set by the sweep itself (run folders under --out); drop it")
            if key == "train.seed" and self.seeds:
                raise ConfigError("train.seed is set and --seeds is given: use one or the other")
        if self.baselines:
            bad = [m for m in self.baselines if m not in ("cc", "dtws")]
            if bad:
                raise ConfigError(f"--baselines {','.join(bad)}: choose among cc, dtws")
        if self.size < 32:
            raise ConfigError(f"--size {self.size}: give an input side of at least 32 pixels")
        if self.limit < 0:
            raise ConfigError(f"--limit {self.limit}: give a number of val images (0 = all)")
        for row in self.rows:  # unknown keys and bad values of the evaluation-time overrides
            if row.mep_overrides:
                try:
                    mep_with_overrides(None, row.mep_overrides)
                except ConfigError as e:
                    raise ConfigError(f"row '{row.name}': {e}") from None

    def plan(self) -> list[_Training]:
        """Validate the rows and group them into trainings (rows x seeds, identical training configs merged).

        Raises:
            ConfigError: no rows, duplicate row names, a reserved or unknown key, a bad value, no ``data.val``.
        """
        self._check_settings()
        slugs = self.row_slugs()
        config_text = Path(self.config).read_text() if Path(self.config).is_file() else str(self.config)
        seeds: list[int | None] = list(self.seeds) if self.seeds else [None]
        trainings: dict[tuple[str, int], _Training] = {}
        vals: dict[str, str] = {}
        for seed in seeds:  # seed-major: a whole first-seed table comes before any second seed
            for row in self.rows:
                cfg = self.row_config(row, seed)
                if not cfg.data.val:
                    raise ConfigError("data.val is not set: the sweep evaluates every run on data.val "
                                      "(e.g. data.val=pennfudan_val)")  # fmt: skip
                if cfg.data.val != vals.setdefault("val", cfg.data.val):
                    raise ConfigError(f"row '{row.name}' sets data.val={cfg.data.val}, another row "
                                      f"{vals['val']}: every row is evaluated on the same data.val")  # fmt: skip
                cfg.train.out_dir, cfg.train.name = "", ""
                same = hashlib.sha256(dump_yaml(cfg).encode()).hexdigest()
                s = int(cfg.train.seed)
                if (same, s) in trainings:  # e.g. rows that differ in mep.* keys only
                    trainings[(same, s)].rows.append(row)
                    continue
                name = f"{slugs[row.name]}_s{s}"
                cfg.train.out_dir, cfg.train.name = str(self.out / "runs"), name
                # The resumability check compares what the user gave (not the resolved config, which a code change
                # that adds a config key would alter under a sweep that is paused).
                given = [o for o in self.overrides if o.split("=", 1)[0].strip() not in RESOURCE_KEYS]
                inputs = {"config": config_text, "overrides": given, "row": row.train_overrides,
                          "seed": s}  # fmt: skip
                key = hashlib.sha256(json.dumps(inputs).encode()).hexdigest()[:16]
                trainings[(same, s)] = _Training(name, s, cfg, key, [row])
        return list(trainings.values())
