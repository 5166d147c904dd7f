"""Dataset description files: a small YAML naming the format, its paths and class options.

Example (``baiseg/configs/datasets/coco128_panoptic_val.yaml``, shipped with the package)::

    format: coco_panoptic
    root: ${BAISEG_SHARED_DATA}/coco128_lightly
    images: images/val2017
    annotations: panoptic_segmentation/annotations/panoptic_val2017.json
    masks: panoptic_segmentation/annotations/panoptic_val2017

``root`` is resolved against the YAML file's folder; every other path against ``root`` (default: the YAML's
folder), except ``list`` (a file of image ids), which is relative to the YAML's folder. Absolute paths are kept.
``${VAR}`` and ``${VAR:-default}`` expand environment variables.

``${BAISEG_SHARED_DATA}`` (no default) is the shared data folder of ``shared_data_dir``: the environment variable
when set, else the first ``shared/data`` folder found next to the installed package or one of its parent folders
(a checkout at ``<work>/main`` finds ``<work>/shared/data``), else next to the current working directory or one of
its parents. So the shipped YAMLs work from a checkout, an editable install, and a ``pip install .`` into any
environment when run from inside the work folder, or anywhere with ``BAISEG_SHARED_DATA`` set.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from baiseg.config import CONFIGS_DIR, find_named_yaml
from baiseg.errors import DataError

COMMON_KEYS = {"format", "root", "split", "classes", "class_subset", "list", "name"}

FORMAT_KEYS: dict[str, set[str]] = {
    "voc": {"semantic_dir", "instance_dir", "image_dir"},
    "coco": {"images", "annotations", "skip_empty"},
    "coco_panoptic": {"images", "annotations", "masks", "skip_empty", "unlabeled"},
    "instance_png": {"images", "masks", "mask_suffix", "classes_file"},
    "semantic_png": {"images", "masks", "mask_suffix"},
    "instance_folders": {"image_subdir", "mask_subdir"},
    "synthetic": {"num_images", "size", "num_classes", "seed"},
}

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


SHARED_DATA_VAR = "BAISEG_SHARED_DATA"


def shared_data_dir() -> Path | None:
    """The folder of the shared datasets (module docstring): ``$BAISEG_SHARED_DATA``, else the first existing
    ``shared/data`` above the package folder, else above the current working directory; None when there is none."""
    env = os.environ.get(SHARED_DATA_VAR, "")
    if env:  # a relative value is relative to the working directory, not to the dataset YAML that names it
        return Path(os.path.abspath(os.path.expanduser(env)))
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for folder in (start, *start.parents):
            cand = folder / "shared" / "data"
            if cand.is_dir():
                return cand
    return None


def expand_vars(text: str) -> str:
    """Expand ``${VAR}`` / ``${VAR:-default}`` (default used when VAR is unset or empty) and ``~``;
    ``${BAISEG_SHARED_DATA}`` without a default is ``shared_data_dir()``.

    Raises:
        DataError: ``${BAISEG_SHARED_DATA}`` is used without a default and no shared data folder was found.
    """

    def sub(m: re.Match) -> str:
        val = os.environ.get(m.group(1), "")
        if val and m.group(1) == SHARED_DATA_VAR:
            return str(shared_data_dir())
        if val or m.group(2) is not None or m.group(1) != SHARED_DATA_VAR:
            return val if val else (m.group(2) or "")
        found = shared_data_dir()
        if found is None:
            raise DataError(
                f"${{{SHARED_DATA_VAR}}} is not set and no shared/data folder was found above the baiseg package or "
                f"the working directory: set {SHARED_DATA_VAR} to the folder holding the datasets"
            )
        return str(found)

    return os.path.expanduser(_VAR.sub(sub, text))


class DatasetSpec:
    """A parsed dataset description.

    Attributes:
        raw: the YAML mapping.
        source: the YAML file (for messages), or ``"<dict>"``.
        format: one of FORMAT_KEYS.
        root: folder that relative paths are resolved against.
    """

    def __init__(self, raw: dict[str, Any], source: str, base_dir: Path) -> None:
        self.raw = dict(raw)
        self.source = source
        self.base_dir = base_dir
        fmt = self.raw.get("format")
        if not isinstance(fmt, str) or fmt not in FORMAT_KEYS:  # a list or mapping is not hashable
            raise DataError(
                f"{source}: 'format' must be one of {', '.join(FORMAT_KEYS)}, got {fmt!r}: add e.g. 'format: coco'"
            )
        self.format: str = fmt
        valid = COMMON_KEYS | FORMAT_KEYS[fmt]
        unknown = sorted(str(k) for k in self.raw if k not in valid)
        if unknown:
            raise DataError(
                f"{source}: unknown key(s) {', '.join(unknown)} for format '{fmt}'. "
                f"Valid keys: {', '.join(sorted(valid))}"
            )
        root = self.raw.get("root")
        try:
            self.root = self._resolve(base_dir, root) if root is not None else base_dir
        except DataError as e:
            raise DataError(f"{source}: root {root!r}: {e}") from None
        if root is not None and not self.root.is_dir():
            raise DataError(f"{source}: root folder '{self.root}' does not exist: fix 'root' (relative to the YAML)")

    @staticmethod
    def _resolve(base: Path, value: Any) -> Path:
        p = Path(expand_vars(str(value)))
        return p if p.is_absolute() else (base / p)

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)

    def path(self, key: str, *, kind: str = "dir", default: str | None = None, required: bool = True) -> Path | None:
        """Resolve the path under ``key`` (or ``default``) and check that it exists.

        Args:
            kind: ``"dir"`` or ``"file"``.
            required: when False, a missing key without default gives None (an existing key must still exist).
        """
        value = self.raw.get(key, default)
        if value is None:
            if required:
                raise DataError(f"{self.source}: format '{self.format}' needs the key '{key}' (a {kind} path)")
            return None
        p = self._resolve(self.root, value)
        ok = p.is_dir() if kind == "dir" else p.is_file()
        if not ok:
            raise DataError(
                f"{self.source}: {key} '{p}' is not an existing {kind}: fix '{key}' (relative to root '{self.root}')"
            )
        return p

    def id_list(self) -> list[str] | None:
        """Image ids from the optional ``list`` file (relative to the YAML's folder; one id a line, ``#`` comments)."""
        value = self.raw.get("list")
        if value is None:
            return None
        p = self._resolve(self.base_dir, value)
        if not p.is_file():
            raise DataError(f"{self.source}: list '{p}' is not an existing file: fix 'list' (relative to the YAML)")
        return read_id_list(p)

    def class_names(self, default: list[str] | None = None) -> list[str] | None:
        names = self.raw.get("classes", default)
        if names is None:
            return None
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names) or not names:
            raise DataError(f"{self.source}: 'classes' must be a non-empty list of class names, got {names!r}")
        if len(set(names)) != len(names):
            raise DataError(f"{self.source}: 'classes' lists a name twice: {names}")
        if len(names) > 254:
            raise DataError(f"{self.source}: {len(names)} classes do not fit uint8 semantic ids (max 254)")
        return list(names)


def read_id_list(path: Path) -> list[str]:
    """One id per line; file extensions are stripped; blank lines and ``#`` comments are skipped."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        msg = f"list file '{path}' cannot be read ({e}): it must be a text file with one image id per line"
        raise DataError(msg) from None
    ids = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            ids.append(Path(line.split()[0]).stem)
    return ids


DATASETS_DIR = CONFIGS_DIR / "datasets"


def resolve_dataset_path(path: str | os.PathLike) -> Path:
    """A dataset YAML path as given, or a bare name of a shipped one (``pennfudan_val`` ->
    ``baiseg/configs/datasets/pennfudan_val.yaml``, package data)."""
    found, known = find_named_yaml(path, DATASETS_DIR)
    if found is None:
        raise DataError(
            f"dataset file '{path}' does not exist: give a dataset YAML, a shipped dataset name "
            f"({', '.join(known) or 'none'}) or 'synthetic'"
        )
    return found


def load_spec(path: str | os.PathLike) -> DatasetSpec:
    """Read a dataset description YAML (or a shipped dataset by name); errors name the file and the fix."""
    p = resolve_dataset_path(path)
    from baiseg.yamlio import load_yaml_file

    raw = load_yaml_file(p, f"dataset file '{p}'", DataError)
    if not isinstance(raw, dict):
        raise DataError(f"dataset file '{p}' must hold a mapping with at least 'format', got {type(raw).__name__}")
    return DatasetSpec(raw, str(p), p.resolve().parent)
