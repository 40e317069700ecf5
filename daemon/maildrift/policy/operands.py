"""Operand values: policy-parameter references, texts, lists, quantities and modes.

An operand written ``{param: NAME}`` (anywhere) or ``$NAME`` (in numeric
places only, where a literal ``$`` could never be meant, unlike Postfix values
such as ``$myhostname``) is replaced by the policy parameter's value. A wrong
type is then reported at the parameter's definition, naming the use.

>>> from maildrift.policy.yamlmarks import load_yaml
>>> params = load_yaml("rate: 30\\nwait: 5m\\n", "p.yaml")
>>> quantity(resolve("$wait", Mark("r.yaml", 9), params, dollar=True), "time", "min")
Bound(value=300, param='wait')
>>> quantity(resolve("$rate", Mark("r.yaml", 9), params, dollar=True), "size", "min")
Bound(value=30, param='rate')
>>> text(resolve(load_yaml("{param: rat}", "r.yaml"), Mark("r.yaml", 1), params), "equals")
Traceback (most recent call last):
...
maildrift.errors.ConfigError: r.yaml:1: unknown policy param 'rat' (did you mean 'rate'?)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NoReturn

from maildrift.policy.checks import Bound
from maildrift.policy.nodes import fail, suggest, type_name
from maildrift.policy.yamlmarks import Mark, MarkedDict, MarkedList

__all__ = [
    "TIME_UNITS",
    "Operand",
    "factor",
    "mode",
    "param_name",
    "quantity",
    "resolve",
    "scalar",
    "text",
    "texts",
    "tokens",
]

#: Postfix's time units; a bare number is seconds.
TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

_TIME = re.compile(r"([0-9]+)([smhdw]?)\Z")
_SIZE = re.compile(r"[0-9]+\Z")
_MODE = re.compile(r"[0-7]{3,4}\Z")
_LIST_SPLIT = re.compile(r"[\s,]+")
_PARAM_NAME = re.compile(r"[a-z_][a-z0-9_]*\Z")


@dataclass(frozen=True)
class Operand:
    """A value as found: where it stands and, if it came from a policy param, which."""

    value: Any
    mark: Mark
    param: str | None = None
    used_at: Mark | None = None

    def fail(self, message: str) -> NoReturn:
        if self.param is not None:
            message += f" (policy param {self.param!r}, used at {self.used_at})"
        fail(message, self.mark)


def resolve(value: Any, mark: Mark, params: MarkedDict, *, dollar: bool = False) -> Operand:
    """Follow a ``{param: NAME}`` (or, with ``dollar``, ``$NAME``) reference."""
    name = None
    name_mark = mark
    if isinstance(value, MarkedDict):
        if set(value) != {"param"}:
            fail(f"an operand mapping must be {{param: NAME}}, not {dict(value)!r}", mark)
        name, name_mark = value["param"], value.value_mark("param")
        if not isinstance(name, str):
            fail(f"a policy param name must be a string, not {type_name(name)}", name_mark)
    elif dollar and isinstance(value, str) and value.startswith("$"):
        name = value[1:]
    if name is None:
        return Operand(value, mark)
    if name not in params:
        fail(f"unknown policy param {name!r}{suggest(name, params)}", name_mark)
    return Operand(params[name], params.value_mark(name), name, name_mark)


def scalar(value: Any, mark: Mark, what: str) -> str | int | float | bool:
    if isinstance(value, (MarkedDict, MarkedList)) or value is None:
        fail(f"{what} must be a single value, not {type_name(value)}", mark)
    if not isinstance(value, (str, int, float)):
        fail(f"{what} must be a string or number, not {type_name(value)}", mark)
    return value


def text(op: Operand, what: str) -> str:
    """A value as Postfix or Dovecot would spell it: true/false become yes/no."""
    value = op.value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (str, int, float)):
        return str(value)
    op.fail(f"{what} must be a single value, not {type_name(value)}")


def texts(op: Operand, what: str) -> tuple[str, ...]:
    """A non-empty YAML list of single values."""
    if not isinstance(op.value, MarkedList):
        op.fail(f"{what} must be a list, not {type_name(op.value)}")
    if not op.value:
        op.fail(f"{what} must not be empty")
    return tuple(
        text(Operand(item, op.value.item_mark(i), op.param, op.used_at), f"{what} item")
        for i, item in enumerate(op.value)
    )


def tokens(op: Operand, what: str) -> tuple[str, ...]:
    """List-syntax items: a YAML list of words, or one string split at commas and whitespace."""
    if isinstance(op.value, str):
        items = tuple(t for t in _LIST_SPLIT.split(op.value) if t)
        if not items:
            op.fail(f"{what} must name at least one item")
        return items
    items = texts(op, what)
    for i, item in enumerate(items):
        if not item or _LIST_SPLIT.search(item):
            Operand(item, op.value.item_mark(i), op.param, op.used_at).fail(
                f"{what} item {item!r} holds a separator (comma or whitespace); "
                "list it as separate items"
            )
    return items


def quantity(op: Operand, kind: str, what: str) -> Bound:
    """An int, a byte count (size) or seconds (time: N with an optional s/m/h/d/w)."""
    value = op.value
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        op.fail(f"{what} must be {_KIND_WORDS[kind]}, not {type_name(value)}")
    if kind == "int":
        if not isinstance(value, int):
            op.fail(f"{what} must be an integer, not {value!r}")
        return Bound(value, op.param)
    if isinstance(value, int):
        if value < 0:
            op.fail(f"{what} must not be negative")
        return Bound(value, op.param)
    match = (_TIME if kind == "time" else _SIZE).match(value)
    if match is None:
        op.fail(f"{what} must be {_KIND_WORDS[kind]}, not {value!r}")
    if kind == "size":
        return Bound(int(value), op.param)
    return Bound(int(match.group(1)) * TIME_UNITS[match.group(2) or "s"], op.param)


_KIND_WORDS = {
    "int": "an integer",
    "size": "a byte count",
    "time": "a time like 300, 30s, 5m, 2h, 1d or 1w",
}


def factor(op: Operand, what: str) -> Bound:
    value = op.value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        op.fail(f"{what} must be a positive number, not {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return Bound(value, op.param)


def mode(value: Any, mark: Mark, what: str) -> int:
    """An octal permission mask written as a string, e.g. ``"0644"``."""
    if isinstance(value, int) and not isinstance(value, bool):
        fail(f'{what} must be an octal string with a leading zero, e.g. "0{value}"', mark)
    if not isinstance(value, str) or not _MODE.match(value):
        fail(f'{what} must be an octal mode like "0644", not {value!r}', mark)
    return int(value, 8)


def param_name(value: Any, mark: Mark, what: str) -> str:
    """A policy param's own name (lower case, digits, underscores)."""
    if not isinstance(value, str) or not _PARAM_NAME.match(value):
        fail(f"{what} {value!r} must be lower-case letters, digits and underscores", mark)
    return value
