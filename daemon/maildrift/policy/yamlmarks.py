"""YAML with a file:line on every node, a strict scalar syntax, and no duplicate keys.

Mappings load as :class:`MarkedDict` and sequences as :class:`MarkedList`; both
know where they and each of their keys and values came from, so any later
validation error can point at the line that caused it.

Scalars follow YAML 1.2's core schema more tightly than PyYAML's YAML 1.1
default, because policy operands are Postfix and Dovecot values: ``yes``,
``no``, ``on`` and ``off`` stay strings, and so does anything with a leading
zero (``0644``), a colon (``1:30``) or a date shape (``2025-01-31``). Only
``true``/``false``, ``null``/``~``/empty, decimal integers without leading
zeros and plain decimals like ``1.5`` are typed.

>>> doc = load_yaml("a: yes\\nb: 0644\\nc:\\n  - 12\\n  - true\\n", "p.yaml")
>>> doc
{'a': 'yes', 'b': '0644', 'c': [12, True]}
>>> doc.value_mark("c").line, doc["c"].item_marks[1].line
(4, 5)
>>> load_yaml("a: 1\\na: 2\\n", "p.yaml")
Traceback (most recent call last):
...
maildrift.errors.ConfigError: p.yaml:2: duplicate key 'a' (first at line 1)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from maildrift.errors import ConfigError

__all__ = [
    "MAX_POLICY_FILE_SIZE",
    "MAX_YAML_NODES",
    "Mark",
    "MarkedDict",
    "MarkedList",
    "load_yaml",
    "load_yaml_file",
]

#: Policy and waiver files are hand-written; anything larger is a mistake.
MAX_POLICY_FILE_SIZE = 4 * 1024 * 1024
#: Nodes a document may expand to once aliases are followed (an alias bomb stops here).
MAX_YAML_NODES = 200_000


@dataclass(frozen=True)
class Mark:
    """A place in a YAML file; lines count from 1."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class MarkedDict(dict):
    """A YAML mapping that remembers where it, each key, and each value stood."""

    def __init__(self, *args: Any, mark: Mark | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.mark = mark or Mark("<input>", 1)
        self.key_marks: dict[Any, Mark] = {}
        self.value_marks: dict[Any, Mark] = {}

    def key_mark(self, key: Any) -> Mark:
        return self.key_marks.get(key, self.mark)

    def value_mark(self, key: Any) -> Mark:
        return self.value_marks.get(key, self.key_mark(key))


class MarkedList(list):
    """A YAML sequence that remembers where it and each item stood."""

    def __init__(self, *args: Any, mark: Mark | None = None):
        super().__init__(*args)
        self.mark = mark or Mark("<input>", 1)
        self.item_marks: list[Mark] = []

    def item_mark(self, index: int) -> Mark:
        return self.item_marks[index] if index < len(self.item_marks) else self.mark


class _Loader(yaml.SafeLoader):
    """SafeLoader with the strict scalar schema, marks, and duplicate-key errors."""

    # A fresh dict, so PyYAML's YAML 1.1 resolvers (yes/no, octal, sexagesimal,
    # timestamps) are not inherited.
    yaml_implicit_resolvers: dict = {}

    def __init__(self, stream: str, file: str):
        super().__init__(stream)
        self.file = file

    def mark_of(self, node: yaml.Node) -> Mark:
        return Mark(self.file, node.start_mark.line + 1)


_IMPLICIT = [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", r"^[-+]?(?:0|[1-9][0-9]*)$", "-+0123456789"),
    ("tag:yaml.org,2002:float", r"^[-+]?(?:0|[1-9][0-9]*)\.[0-9]+$", "-+0123456789"),
    ("tag:yaml.org,2002:merge", r"^<<$", "<"),
]
for _tag, _pattern, _first in _IMPLICIT:
    _Loader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def _construct_mapping(loader: _Loader, node: yaml.MappingNode):
    data = MarkedDict(mark=loader.mark_of(node))
    yield data
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:
            raise ConfigError(
                "a mapping key must be a plain value", loader.file, key_node.start_mark.line + 1
            ) from None
        if first is not None:
            raise ConfigError(
                f"duplicate key {key!r} (first at line {first})",
                loader.file,
                key_node.start_mark.line + 1,
            )
        seen[key] = key_node.start_mark.line + 1
    # Merge keys (<<) are expanded only after the duplicate check: a key that
    # overrides a merged one is the point of merging, not a mistake.
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        data[key] = loader.construct_object(value_node, deep=False)
        data.key_marks[key] = loader.mark_of(key_node)
        data.value_marks[key] = loader.mark_of(value_node)


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode):
    data = MarkedList(mark=loader.mark_of(node))
    yield data
    for item in node.value:
        data.append(loader.construct_object(item, deep=False))
        data.item_marks.append(loader.mark_of(item))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def _count_nodes(node: yaml.Node, file: str) -> None:
    sizes: dict[int, int] = {}
    busy: set[int] = set()

    def size(n: yaml.Node) -> int:
        if id(n) in sizes:
            return sizes[id(n)]
        if id(n) in busy:
            raise ConfigError("recursive alias", file, n.start_mark.line + 1)
        busy.add(id(n))
        total = 1
        if isinstance(n, yaml.SequenceNode):
            total += sum(size(item) for item in n.value)
        elif isinstance(n, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in n.value)
        busy.discard(id(n))
        if total > MAX_YAML_NODES:
            raise ConfigError(
                f"document expands to more than {MAX_YAML_NODES} nodes through aliases",
                file,
                n.start_mark.line + 1,
            )
        sizes[id(n)] = total
        return total

    size(node)


def load_yaml(text: str, file: str) -> Any:
    """Parse one YAML document; raise ConfigError naming ``file`` and the line."""
    loader = _Loader(text, file)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _count_nodes(node, file)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            context = exc.context
            if exc.context_mark is not None and exc.context_mark.line + 1 != line:
                context += f" from line {exc.context_mark.line + 1}"
            problem = f"{problem} ({context})"
        raise ConfigError(f"invalid YAML: {problem}", file, line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file) from None
    except RecursionError:
        raise ConfigError("YAML nested too deeply", file) from None
    finally:
        loader.dispose()


def load_yaml_file(path: str) -> Any:
    """Read and parse a UTF-8 YAML file; every failure is a ConfigError naming it."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_POLICY_FILE_SIZE + 1)
    except OSError as exc:
        raise ConfigError(exc.strerror or str(exc), path) from None
    if len(data) > MAX_POLICY_FILE_SIZE:
        raise ConfigError(f"file larger than {MAX_POLICY_FILE_SIZE} bytes", path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError("not UTF-8 text", path, line) from None
    return load_yaml(text, path)
