"""Postfix ``$name`` expansion (mac_expand(3)), pure and on demand.

Sample input::

    smtpd_sasl_tls_security_options = $smtpd_sasl_security_options
    mynetworks = ${{$compatibility_level} <level {2} ? {subnet} : {host}}

>>> values = {"a": "x", "empty": "", "compatibility_level": "3.6"}
>>> expand("$a ${a} $(a) $$a", values.get)
'x x x $a'
>>> expand("${a?{yes}:{no}} ${empty?{yes}:{no}} ${undef:fallback} ${a?plain}", values.get)
'yes no fallback plain'
>>> expand("${{$compatibility_level} <level {2} ? {old} : {new}}", values.get)
'new'
>>> expand("${{10} < {9} ? {lt} : {ge}} ${{abc} != {abd} ? {ne} : {eq}}", values.get)
'ge ne'
"""

from __future__ import annotations

import functools
from typing import Callable, Optional

from maildrift.errors import ConfigError

__all__ = ["ExpansionError", "compare_levels", "expand", "referenced_names"]

Lookup = Callable[[str], Optional[str]]

#: mac_expand(3) gives up at this depth with "unreasonable macro call nesting".
MAX_NESTING = 100

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_SPACE = " \t\n\r\f\v"


class ExpansionError(ConfigError):
    """A value Postfix itself would refuse to expand ("macro processing error")."""


def _closing(text: str, start: int, open_ch: str, close_ch: str) -> int:
    """Index of the bracket closing the one just before ``start``, or -1."""
    level = 1
    for i in range(start, len(text)):
        ch = text[i]
        if ch == open_ch:
            level += 1
        elif ch == close_ch:
            level -= 1
            if level == 0:
                return i
    return -1


def _braced(text: str, pos: int) -> tuple[str, int]:
    """Parse ``{...}`` at ``pos`` (after blanks); return its body and the index after it."""
    while pos < len(text) and text[pos] in _SPACE:
        pos += 1
    if pos >= len(text) or text[pos] != "{":
        raise ExpansionError(f'"{{" expected in conditional expression: "{text}"')
    end = _closing(text, pos + 1, "{", "}")
    if end < 0:
        raise ExpansionError(f'unbalanced "{{" in conditional expression: "{text}"')
    return text[pos + 1 : end], end + 1


_OPERATORS = ("==level", "!=level", "<=level", ">=level", "<level", ">level")
_OPERATORS += ("==", "!=", "<=", ">=", "<", ">")


def compare_levels(left: str, right: str) -> int:
    """Compare compatibility levels such as ``2`` and ``3.6`` (-1, 0 or 1).

    >>> compare_levels("3.6", "2"), compare_levels("2", "2.0"), compare_levels("3.10", "3.9")
    (1, 0, 1)
    """

    a, b = _level_parts(left), _level_parts(right)
    return (a > b) - (a < b)


@functools.lru_cache(maxsize=256)
def _level_parts(level: str) -> tuple[int, int, int]:
    # A handful of level texts occur at all; every mynetworks default compares one.
    fields = level.strip().split(".")
    if not 1 <= len(fields) <= 3 or not all(f.isdigit() for f in fields):
        raise ExpansionError(f'invalid compatibility level: "{level}"')
    numbers = [int(f) for f in fields] + [0, 0]
    return numbers[0], numbers[1], numbers[2]


# Steps of a compiled value: a str is literal text; tuples start with one of these.
_NAME, _COND, _REL, _LOOKUP_ERROR, _ERROR = range(5)


def _compile_relational(body: str) -> tuple:
    try:
        left, pos = _braced(body, 0)
        rest = body[pos:].lstrip(_SPACE)
        op = next((o for o in _OPERATORS if rest.startswith(o)), None)
        if op is None:
            raise ExpansionError(f'unknown operator in "${{{body}}}"')
        right, pos = _braced(rest, len(op))
        tail = rest[pos:].lstrip(_SPACE)
        if not tail.startswith("?"):
            raise ExpansionError(f'"?" expected in "${{{body}}}"')
        if_true, pos = _braced(tail, 1)
        tail = tail[pos:].lstrip(_SPACE)
        if_false = ""
        if tail.startswith(":"):
            if_false, pos = _braced(tail, 1)
            tail = tail[pos:].lstrip(_SPACE)
        if tail:
            raise ExpansionError(f'unexpected text after conditional expression "${{{body}}}"')
    except ExpansionError as exc:
        return (_ERROR, exc.message)
    return (_REL, left, op, right, if_true, if_false, body)


def _compile_conditional(body: str) -> tuple:
    """``name``, ``name?text``, ``name:text`` and the ``{text}`` forms."""
    end = 0
    while end < len(body) and body[end] not in "?:":
        end += 1
    name = body[:end].strip(_SPACE)
    if not name or not all(c in _NAME_CHARS for c in name):
        return (_ERROR, f'invalid macro name: "${{{body}}}"')
    if end == len(body):
        return (_NAME, name)
    selector, text = body[end], body[end + 1 :]
    stripped = text.lstrip(_SPACE)
    if_true = if_false = None
    if stripped.startswith("{"):
        try:
            first, pos = _braced(stripped, 0)
            tail = stripped[pos:].lstrip(_SPACE)
            if selector == "?" and tail.startswith(":"):
                if_true, if_false = first, _braced(tail, 1)[0]
            elif tail:
                raise ExpansionError(f'unexpected text in "${{{body}}}"')
            elif selector == "?":
                if_true = first
            else:
                if_false = first
        except ExpansionError as exc:
            # Postfix looks the name up before it reads the branches.
            return (_LOOKUP_ERROR, name, exc.message)
    elif selector == "?":
        if_true = text
    else:
        if_false = text
    return (_COND, name, if_true, if_false)


@functools.lru_cache(maxsize=8192)
def _compiled(text: str) -> tuple:
    """``text`` parsed into steps once; an error is a step where it occurs.

    Pure in the text, and most values (every default among them) are the
    same from one model to the next: expanding then only walks the steps.
    """
    steps: list = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "$":
            j = text.find("$", i)
            j = len(text) if j < 0 else j
            steps.append(text[i:j])
            i = j
            continue
        nxt = text[i + 1 : i + 2]
        if nxt == "$":
            steps.append("$")
            i += 2
        elif nxt in ("{", "("):
            close = "}" if nxt == "{" else ")"
            end = _closing(text, i + 2, nxt, close)
            if end < 0:
                steps.append((_ERROR, f'truncated macro reference: "{text[i:][:60]}"'))
                break
            body = text[i + 2 : end]
            if body.lstrip(_SPACE).startswith("{"):
                steps.append(_compile_relational(body.lstrip(_SPACE)))
            else:
                steps.append(_compile_conditional(body))
            i = end + 1
        else:
            j = i + 1
            while j < len(text) and text[j] in _NAME_CHARS:
                j += 1
            if j == i + 1:
                steps.append((_ERROR, f'empty macro name: "{text[:60]}"'))
                break
            steps.append((_NAME, text[i + 1 : j]))
            i = j
    return tuple(steps)


def _relational(step: tuple, lookup: Lookup, depth: int) -> str:
    _, left, op, right, if_true, if_false, body = step
    lhs = _expand(left, lookup, depth + 1).strip(_SPACE)
    rhs = _expand(right, lookup, depth + 1).strip(_SPACE)
    if op.endswith("level"):
        order = compare_levels(lhs, rhs)
        base = op[: -len("level")]
    elif op in ("==", "!="):
        order = (lhs > rhs) - (lhs < rhs)
        base = op
    else:
        if not (lhs.lstrip("-").isdigit() and rhs.lstrip("-").isdigit()):
            raise ExpansionError(f'non-numeric operand in "${{{body}}}"')
        order = (int(lhs) > int(rhs)) - (int(lhs) < int(rhs))
        base = op
    return _expand(if_true if _HOLDS[base](order) else if_false, lookup, depth + 1)


#: Whether a comparison's order (-1, 0 or 1) satisfies each operator.
_HOLDS = {
    "==": lambda order: order == 0,
    "!=": lambda order: order != 0,
    "<": lambda order: order < 0,
    "<=": lambda order: order <= 0,
    ">": lambda order: order > 0,
    ">=": lambda order: order >= 0,
}


def _expand(text: str, lookup: Lookup, depth: int) -> str:
    if depth > MAX_NESTING:
        raise ExpansionError(f'unreasonable macro call nesting: "{text[:60]}"')
    steps = _compiled(text)
    if len(steps) == 1:
        # Most values are one literal or one $name: no list to join.
        step = steps[0]
        if step.__class__ is str:
            return step
        if step[0] == _NAME:
            value = lookup(step[1])
            return "" if value is None else value
    out: list[str] = []
    for step in steps:
        if step.__class__ is str:
            out.append(step)
            continue
        kind = step[0]
        if kind == _NAME:
            value = lookup(step[1])
            out.append("" if value is None else value)
        elif kind == _COND:
            chosen = step[2] if lookup(step[1]) else step[3]
            if chosen is not None:
                out.append(_expand(chosen, lookup, depth + 1))
        elif kind == _REL:
            out.append(_relational(step, lookup, depth))
        elif kind == _LOOKUP_ERROR:
            lookup(step[1])
            raise ExpansionError(step[2])
        else:
            raise ExpansionError(step[1])
    return "".join(out)


def expand(text: str, lookup: Lookup) -> str:
    """Expand ``text``; ``lookup`` returns a name's already expanded value, or None."""
    return _expand(text, lookup, 0)


def referenced_names(text: str) -> set[str]:
    """Every parameter name ``text`` may expand, in all branches (postconf's scan mode).

    >>> sorted(referenced_names("${a?{$b}:{$c}} $$d ${{$e} == {x} ? {$f}}"))
    ['a', 'b', 'c', 'e', 'f']
    """
    return set(_referenced_names(text))


@functools.lru_cache(maxsize=4096)
def _referenced_names(text: str) -> frozenset[str]:
    # Pure in the text; the same values are scanned on every model build.
    names: set[str] = set()

    def record(name: str) -> str:
        names.add(name)
        return "x"

    def scan(fragment: str, depth: int = 0) -> None:
        # Expanding with every name set to a non-empty value visits the "?" branch;
        # with every name empty, the ":" branch; together they cover both.
        for probe in (record, lambda n: (names.add(n), "")[1]):
            try:
                _expand(fragment, probe, depth)
            except ExpansionError:
                return

    scan(text)
    return frozenset(names)
