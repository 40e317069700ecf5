"""Surgical main.cf edits: one parameter's lines change, every other byte stays.

Postfix uses the last assignment of a name, so setting a parameter replaces
the physical lines of that last (effective) assignment, continuation lines and
the comments among them included; earlier, shadowed assignments are left as
they are. A name the file does not assign is appended at the end. Unsetting
removes every assignment of the name, since removing only the last one would
let an earlier one take effect.

The new value is either a plain string (written ``name = value``) or the raw
physical lines of a whole assignment, e.g. the last-known-good file's own
lines from :func:`assignment_lines`, so that a multi-line value comes back
exactly as it was written.

>>> text = "myhostname = a\\n# note\\nmyhostname = b\\nrelayhost =\\n    [mx]\\n"
>>> print(set_param(text, "myhostname", "c"), end="")
myhostname = a
# note
myhostname = c
relayhost =
    [mx]
>>> print(set_param(text, "relayhost", ["relayhost = [gw]", "  # was mx", "  :587"]), end="")
myhostname = a
# note
myhostname = b
relayhost = [gw]
  # was mx
  :587
>>> print(unset_param(text, "myhostname"), end="")
# note
relayhost =
    [mx]
>>> assignment_lines(text, "relayhost")
('relayhost =', '    [mx]')
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from maildrift.edit.surgery import (
    append_lines,
    body,
    cr_of,
    parsed,
    splice,
    split_lines,
)
from maildrift.errors import ConfigError
from maildrift.postfix.maincf import MainCf, parse_main_cf

__all__ = ["assignment_lines", "param_lines", "parse_or_refuse", "set_param", "unset_param"]

_DEFAULT_FILE = "main.cf"


# Pure and immutable: one revert asks about the same two or three texts many times.
_parse_main_cf = functools.lru_cache(maxsize=16)(parse_main_cf)


def parse_or_refuse(text: str, file: str = _DEFAULT_FILE) -> MainCf:
    """Parse main.cf text, or raise :class:`SurgeryImpossible` where Postfix would fail."""
    return parsed(_parse_main_cf, text, file, "main.cf")


def assignment_lines(text: str, name: str, file: str = _DEFAULT_FILE) -> tuple[str, ...] | None:
    """The raw physical lines (no ``\\n``) of the effective assignment of ``name``, or None."""
    assignment = parse_or_refuse(text, file).get(name)
    if assignment is None:
        return None
    lines = split_lines(text)
    return tuple(body(line) for line in lines[assignment.line - 1 : assignment.end_line])


def param_lines(name: str, value: str) -> tuple[str]:
    """The one line ``name = value`` (``name =`` for an empty value).

    >>> param_lines("relayhost", ""), param_lines("myhostname", "mx")
    (('relayhost =',), ('myhostname = mx',))
    """
    if "\n" in value:
        raise ValueError(f"a main.cf value cannot hold a newline: {value!r}")
    return (f"{name} = {value}" if value else f"{name} =",)


def _check_lines(name: str, lines: Sequence[str]) -> tuple[str, ...]:
    """``lines`` must be exactly one assignment of ``name``, from first line to last."""
    lines = tuple(lines)
    if not lines or any("\n" in line for line in lines):
        raise ValueError(f"not the physical lines of one assignment: {lines!r}")
    try:
        parsed = parse_main_cf("\n".join(lines), "<new lines>")
    except ConfigError as exc:
        raise ValueError(f"the new lines for {name} do not parse: {exc}") from None
    found = parsed.assignments
    if (
        len(found) != 1
        or parsed.warnings
        or found[0].name != name
        or found[0].line != 1
        or found[0].end_line != len(lines)
    ):
        raise ValueError(f"not exactly one assignment of {name}: {lines!r}")
    return lines


def _new_lines(name: str, value: str | Sequence[str], neighbour: str | None) -> tuple[str, ...]:
    if isinstance(value, str):
        # A generated line takes the line ending of the line it replaces or follows.
        return tuple(line + cr_of(neighbour) for line in param_lines(name, value))
    return _check_lines(name, value)


def set_param(
    text: str, name: str, value_lines: str | Sequence[str], file: str = _DEFAULT_FILE
) -> str:
    """``text`` with the effective assignment of ``name`` replaced (or appended).

    ``value_lines`` is a value (written as ``name = value``) or the raw
    physical lines of one complete assignment of ``name``.
    """
    cf = parse_or_refuse(text, file)
    lines = split_lines(text)
    current = cf.get(name)
    if current is None:
        last = lines[-1] if lines else None
        return append_lines(text, _new_lines(name, value_lines, last))
    new = _new_lines(name, value_lines, lines[current.line - 1])
    return splice(lines, current.line, current.end_line, new)


def unset_param(text: str, name: str, file: str = _DEFAULT_FILE) -> str:
    """``text`` without any assignment of ``name`` (unchanged when there is none)."""
    cf = parse_or_refuse(text, file)
    spans = [(a.line, a.end_line) for a in cf.assignments if a.name == name]
    for first, last in reversed(spans):
        text = splice(split_lines(text), first, last, [])
    return text
