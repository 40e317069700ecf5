"""Reading typed values out of marked YAML, failing at the line that is wrong.

Every helper raises :class:`~maildrift.errors.ConfigError` with the file and
line of the offending key or value, worded for the person who wrote the YAML.

>>> from maildrift.policy.yamlmarks import load_yaml
>>> node = load_yaml("id: x\\nseverity: hihg\\n", "p.yaml")
>>> get_choice(node, "severity", ("info", "high"), "rule")
Traceback (most recent call last):
...
maildrift.errors.ConfigError: p.yaml:2: rule 'severity' must be one of info, high, \
not 'hihg' (did you mean 'high'?)
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from typing import Any, NoReturn

from maildrift.errors import ConfigError
from maildrift.policy.yamlmarks import Mark, MarkedDict, MarkedList

__all__ = [
    "check_keys",
    "expect_list",
    "expect_mapping",
    "expect_str",
    "fail",
    "get_bool",
    "get_choice",
    "get_str",
    "require",
    "suggest",
    "type_name",
]


def fail(message: str, mark: Mark) -> NoReturn:
    raise ConfigError(message, mark.file, mark.line)


def suggest(name: str, candidates: Collection[str]) -> str:
    """A did-you-mean clause for an unknown ``name``, or ``""``.

    >>> suggest("smtpd_sasl_securty_options", {"smtpd_sasl_security_options", "smtp_sasl"})
    " (did you mean 'smtpd_sasl_security_options'?)"
    """
    close = difflib.get_close_matches(name, sorted(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def type_name(value: Any) -> str:
    """How a YAML value's type reads in an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a YAML {type(value).__name__}"


def check_keys(node: MarkedDict, allowed: Collection[str], what: str) -> None:
    """Refuse any key of ``node`` outside ``allowed``, at that key's line."""
    for key in node:
        if not isinstance(key, str):
            fail(f"{what} keys must be strings, not {type_name(key)}", node.key_mark(key))
        if key not in allowed:
            fail(f"unknown {what} key {key!r}{suggest(key, allowed)}", node.key_mark(key))


def expect_mapping(value: Any, mark: Mark, what: str) -> MarkedDict:
    if not isinstance(value, MarkedDict):
        fail(f"{what} must be a mapping, not {type_name(value)}", mark)
    return value


def expect_list(value: Any, mark: Mark, what: str) -> MarkedList:
    if not isinstance(value, MarkedList):
        fail(f"{what} must be a list, not {type_name(value)}", mark)
    return value


def expect_str(value: Any, mark: Mark, what: str, *, nonempty: bool = True) -> str:
    if not isinstance(value, str):
        fail(f"{what} must be a string, not {type_name(value)}", mark)
    if nonempty and not value.strip():
        fail(f"{what} must not be empty", mark)
    return value


def require(node: MarkedDict, key: str, what: str) -> Any:
    """The value of a required key; a missing one is reported at the mapping's line."""
    if node.get(key) is None:
        fail(f"{what} has no {key!r}", node.mark)
    return node[key]


def get_str(
    node: MarkedDict, key: str, what: str, default: str | None = None, *, nonempty: bool = True
) -> str | None:
    if node.get(key) is None:
        return default
    return expect_str(node[key], node.value_mark(key), f"{what} {key!r}", nonempty=nonempty)


def get_bool(node: MarkedDict, key: str, what: str, default: bool = False) -> bool:
    value = node.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        fail(f"{what} {key!r} must be true or false, not {value!r}", node.value_mark(key))
    return value


def get_choice(node: MarkedDict, key: str, choices: Collection[str], what: str) -> str:
    value = expect_str(require(node, key, what), node.value_mark(key), f"{what} {key!r}")
    if value not in choices:
        fail(
            f"{what} {key!r} must be one of {', '.join(choices)}, not {value!r}"
            + suggest(value, choices),
            node.value_mark(key),
        )
    return value
