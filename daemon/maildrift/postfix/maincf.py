"""main.cf parsing: assignments with provenance, as Postfix's dict_load_fp() reads them.

Sample input::

    myhostname = mail.example.com
    # comments and blank lines never end a continuation
    smtpd_sasl_security_options = noanonymous,

        noplaintext
    myhostname = mx.example.com

>>> cf = parse_main_cf(
...     "myhostname = a\\nsmtpd_sasl_security_options = noanonymous,\\n\\n    noplaintext\\n"
...     "myhostname = b\\n", "/etc/postfix/main.cf")
>>> cf.get("myhostname").value_raw, cf.get("myhostname").line
('b', 5)
>>> [(a.value_raw, a.line) for a in cf.shadowed("myhostname")]
[('a', 1)]
>>> cf.get("smtpd_sasl_security_options").value
'noanonymous, noplaintext'
>>> cf.warnings[0].message
'overriding earlier entry: myhostname=a'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from maildrift.errors import ConfigError
from maildrift.postfix.logical_lines import POSTFIX_SPACE, logical_lines

__all__ = ["Assignment", "Diagnostic", "MainCf", "display_value", "parse_main_cf"]

_SPACE_RUN = re.compile(f"[{re.escape(POSTFIX_SPACE)}]+")


def display_value(raw: str) -> str:
    """The form ``postconf -n`` prints: runs of whitespace collapsed to one space.

    >>> display_value("a  \\t b")
    'a b'
    """
    return _SPACE_RUN.sub(" ", raw)


@dataclass(frozen=True)
class Diagnostic:
    """A warning worded like postconf's, with where it applies."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}, line {self.line}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Assignment:
    """One ``name = value`` logical line; ``line``..``end_line`` are its physical lines."""

    name: str
    value_raw: str
    file: str
    line: int
    end_line: int

    @property
    def value(self) -> str:
        return display_value(self.value_raw)


@dataclass(frozen=True)
class MainCf:
    """Every assignment of one main.cf, in file order."""

    file: str
    assignments: tuple[Assignment, ...]
    warnings: tuple[Diagnostic, ...] = ()
    _last: dict[str, Assignment] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for assignment in self.assignments:
            self._last[assignment.name] = assignment

    def get(self, name: str) -> Assignment | None:
        """The assignment Postfix uses: the last one."""
        return self._last.get(name)

    def names(self) -> list[str]:
        return sorted(self._last)

    def effective(self) -> dict[str, Assignment]:
        return dict(self._last)

    def shadowed(self, name: str) -> list[Assignment]:
        """Earlier assignments of ``name`` that the last one overrides."""
        winner = self._last.get(name)
        return [a for a in self.assignments if a.name == name and a is not winner]


def split_nameval(text: str, file: str, line: int) -> tuple[str, str]:
    """Postfix's split_nameval(): ``name = value`` with the same two fatal errors.

    >>> split_nameval("  a =  b c  ", "main.cf", 1)
    ('a', 'b c')
    >>> split_nameval("= x", "main.cf", 7)
    Traceback (most recent call last):
    ...
    maildrift.errors.ConfigError: main.cf:7: missing attribute name: "= x"
    """
    body = text.lstrip(POSTFIX_SPACE)
    if not body:
        raise ConfigError("missing attribute name", file, line)
    end = 0
    while end < len(body) and body[end] not in POSTFIX_SPACE and body[end] != "=":
        end += 1
    name = body[:end]
    rest = body[end:].lstrip(POSTFIX_SPACE)
    if not name:
        raise ConfigError(f'missing attribute name: "{_clip(text)}"', file, line)
    if not rest.startswith("="):
        raise ConfigError(f"missing '=' after attribute name: \"{_clip(text)}\"", file, line)
    return name, rest[1:].strip(POSTFIX_SPACE)


def _clip(text: str) -> str:
    # postconf quotes at most 30 characters of the offending line.
    return text if len(text) <= 30 else text[:30] + "..."


def parse_main_cf(text: str, file: str) -> MainCf:
    """Parse main.cf text; raise ConfigError where postconf would be fatal."""
    assignments: list[Assignment] = []
    warnings: list[Diagnostic] = []
    seen: dict[str, Assignment] = {}
    for logical in logical_lines(text):
        if logical.text[0] in POSTFIX_SPACE:
            warnings.append(
                Diagnostic(
                    file,
                    logical.first,
                    f'logical line must not start with whitespace: "{_clip(logical.text)}"',
                )
            )
            continue
        name, value = split_nameval(logical.text, file, logical.first)
        assignment = Assignment(name, value, file, logical.first, logical.last)
        earlier = seen.get(name)
        if earlier is not None:
            warnings.append(
                Diagnostic(
                    file, logical.first, f"overriding earlier entry: {name}={earlier.value_raw}"
                )
            )
        seen[name] = assignment
        assignments.append(assignment)
    return MainCf(file, tuple(assignments), tuple(warnings))
