"""The one YAML reader of the package: configs, dataset descriptions, rows files, stored configs and overrides.

Every YAML text baiseg reads passes ``load_yaml_text`` (or ``load_yaml_file``), which

- decodes files as UTF-8 and names the file and the byte that is not (a Latin-1 file is an error, not a traceback);
- refuses a mapping that repeats a key (``train:`` twice would otherwise let the second block win without a word);
- refuses more than ``MAX_ALIASES`` aliases (a few hundred bytes of nested aliases expand to gigabytes);
- turns YAML syntax errors into one line that names the file.

The caller chooses the exception class (``ConfigError``, ``DataError``) so that each command keeps its exit code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from baiseg.errors import BaisegError

#: Aliases (``*name``) allowed in one document; configs need none, a bomb needs dozens.
MAX_ALIASES = 32


class _Refused(yaml.YAMLError):
    """A document that parses but is refused (a repeated key, too many aliases): never read as plain text."""


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and bounds aliases."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise _Refused(f"more than {MAX_ALIASES} aliases (line {mark.line + 1}): write the values out")
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    continue  # SafeLoader reports unhashable keys itself
                if key in seen:
                    raise _Refused(
                        f"key '{key}' appears twice in one mapping (lines {seen[key]} and "
                        f"{key_node.start_mark.line + 1}): keep one (the second would silently replace the first)"
                    )
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def load_yaml_text(text: str, what: str, error: type[Exception] = BaisegError) -> Any:
    """Parse one YAML document.

    Args:
        text: the YAML text.
        what: how messages name its source, e.g. ``"config file 'a.yaml'"``.
        error: the exception class raised on any problem.
    """
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as e:
        msg = " ".join(str(e).split())
        raise error(f"{what} is not valid YAML ({msg}): fix it") from None
    except RecursionError:
        raise error(f"{what} nests too deeply to be a configuration: simplify it") from None


def load_override_value(raw: str, what: str, error: type[Exception] = BaisegError) -> Any:
    """The value of a ``key=value`` override: YAML when it parses (``5``, ``true``, ``[1, 2]``), the text itself when it
    does not (``a:b``); a repeated key or an alias bomb is refused like in a file."""
    try:
        return yaml.load(raw, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except _Refused as e:
        raise error(f"{what} is not valid YAML ({' '.join(str(e).split())}): fix it") from None
    except (yaml.YAMLError, RecursionError):
        return raw


def read_text_utf8(path: str | os.PathLike, what: str, error: type[Exception] = BaisegError) -> str:
    """A text file's content, decoded as UTF-8, with one-line errors naming ``what``."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise error(f"{what} cannot be read ({e.strerror or e}): check the path and its permissions") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise error(
            f"{what} is not UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start}): save it as UTF-8"
        ) from None


def load_yaml_file(path: str | os.PathLike, what: str, error: type[Exception] = BaisegError) -> Any:
    """``load_yaml_text`` of a file read by ``read_text_utf8``."""
    return load_yaml_text(read_text_utf8(path, what, error), what, error)
