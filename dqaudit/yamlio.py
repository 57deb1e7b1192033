"""Safe YAML loading for config and policy files.

Only plain data is accepted: ``!!python`` tags are refused by the safe loader, and
anchors/aliases are refused outright so an alias bomb cannot expand in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

MAX_BYTES = 5_000_000
#: Deepest nesting of lists and mappings accepted; real configs use 4 or 5 levels, and the composer
#: recurses once per level (a 40 kB file of brackets would otherwise end in a RecursionError).
MAX_DEPTH = 64


class _NoAliasLoader(yaml.SafeLoader):
    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ConfigError(
                f"line {event.start_mark.line + 1}: YAML aliases (*{event.anchor}) are not allowed")
        if self._depth >= MAX_DEPTH:
            line = self.peek_event().start_mark.line + 1
            raise ConfigError(f"line {line}: lists and mappings nested deeper than {MAX_DEPTH} levels")
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_timestamp(self, node: Any) -> Any:
        """``2025-13-45`` looks like a date to YAML; make it a located error instead of a ValueError."""
        try:
            return self.construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(None, None, f"invalid date {node.value!r} ({exc})",
                                                    node.start_mark) from None


_NoAliasLoader.add_constructor("tag:yaml.org,2002:timestamp", _NoAliasLoader.construct_timestamp)


class YamlDoc:
    """A loaded YAML document that can say on which line a key path sits."""

    def __init__(self, path: Path, data: Any, root: yaml.Node | None) -> None:
        self.path, self.data, self._root = path, data, root

    def line_of(self, keys: Sequence[str | int]) -> int | None:
        node, line = self._root, None
        for key in keys:
            if isinstance(node, yaml.MappingNode):
                match = [(k, v) for k, v in node.value if getattr(k, "value", None) == str(key)]
                if not match:
                    break
                node = match[0][1]
                line = match[0][0].start_mark.line + 1
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
                node = node.value[key]
                line = node.start_mark.line + 1
            else:
                break
        return line

    def where(self, keys: Sequence[str | int]) -> str:
        line = self.line_of(keys)
        return f"{self.path}" + (f":{line}" if line else "")


def load_yaml(path: str | Path) -> YamlDoc:
    """Read a YAML file safely; any problem is a ConfigError naming the file (and line)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    raw = path.read_bytes()
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"{path}: file is larger than {MAX_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")
        root = yaml.compose(text, Loader=_NoAliasLoader)
        data = yaml.load(text, Loader=_NoAliasLoader) if root is not None else None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 ({exc.reason})") from None
    except ConfigError as exc:
        raise ConfigError(f"{path}:{str(exc).removeprefix('line ')}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{where}: invalid YAML: {problem}") from None
    return YamlDoc(path, {} if data is None else data, root)
