"""Surgical master.cf edits: one ``-o`` override of one service changes in place.

Edits act on the effective entry of ``service/type`` (the last one, which
master uses). Setting an override rewrites the value word of its last ``-o``
(the one the daemon ends up with) where it stands, or adds ``-o name=value``
as a new continuation line after the entry's last line, indented like the
entry's other continuation lines. Removing drops every ``-o`` of that name in
the entry, and a line that held nothing else. A value with white space is
written in the long form ``-o { name = value }``.

>>> text = "submission inet n - y - - smtpd\\n  -o syslog_name=sub\\n  -o a=1 -o b=2\\n"
>>> print(set_override(text, "submission/inet", "a", "x y"), end="")
submission inet n - y - - smtpd
  -o syslog_name=sub
  -o { a = x y } -o b=2
>>> print(set_override(text, "submission/inet", "smtpd_tls_auth_only", "yes"), end="")
submission inet n - y - - smtpd
  -o syslog_name=sub
  -o a=1 -o b=2
  -o smtpd_tls_auth_only=yes
>>> print(remove_override(text, "submission/inet", "syslog_name"), end="")
submission inet n - y - - smtpd
  -o a=1 -o b=2
>>> print(remove_override(text, "submission/inet", "a"), end="")
submission inet n - y - - smtpd
  -o syslog_name=sub
  -o b=2
"""

from __future__ import annotations

import functools

from maildrift.edit.surgery import (
    SurgeryImpossible,
    body,
    cr_of,
    line_offsets,
    parsed,
    split_lines,
)
from maildrift.errors import ConfigError
from maildrift.postfix.logical_lines import POSTFIX_SPACE
from maildrift.postfix.mastercf import MasterCf, Override, Service, Token, parse_master_cf

__all__ = [
    "format_override",
    "override_text",
    "parse_or_refuse",
    "remove_override",
    "set_override",
]

_DEFAULT_FILE = "master.cf"
_BLANKS = " \t"


# Pure and immutable: one revert asks about the same two or three texts many times.
_parse_master_cf = functools.lru_cache(maxsize=16)(parse_master_cf)


def parse_or_refuse(text: str, file: str = _DEFAULT_FILE) -> MasterCf:
    """Parse master.cf text, or raise :class:`SurgeryImpossible` where Postfix would fail."""
    return parsed(_parse_master_cf, text, file, "master.cf")


def _entry(cf: MasterCf, key: str, file: str) -> Service:
    service = cf.find(key)
    if service is None:
        raise SurgeryImpossible(f"no {key} entry in master.cf", file)
    for warning in cf.warnings:
        if warning.line is not None and service.line <= warning.line <= service.end_line:
            # An unbalanced '{' or an unparsable -o: the words are not what they look like.
            raise SurgeryImpossible(f"{key}: {warning.message}", file)
    return service


def _parses_as(word: str, name: str, value_raw: str) -> bool:
    try:
        cf = parse_master_cf(f"x unix - - n - - c -o {word}", "<word>")
    except ConfigError:
        return False
    service = cf.services[0]
    found = [(o.name, o.value_raw) for o in service.overrides]
    return not cf.warnings and len(service.args) == 2 and found == [(name, value_raw)]


def format_override(name: str, value_raw: str, long_form: bool = False) -> str:
    """The word after ``-o``: ``name=value``, or ``{ name = value }`` when needed or asked.

    >>> format_override("a", "b"), format_override("a", "b c"), format_override("a", "", True)
    ('a=b', '{ a = b c }', '{ a = }')
    """
    if long_form or any(ch in POSTFIX_SPACE for ch in value_raw):
        word = f"{{ {name} = {value_raw} }}" if value_raw else f"{{ {name} = }}"
    else:
        word = f"{name}={value_raw}"
    if not _parses_as(word, name, value_raw):
        raise ValueError(f"-o {name}={value_raw!r} cannot be written in master.cf")
    return word


def override_text(text: str, service_key: str, name: str, file: str = _DEFAULT_FILE) -> str | None:
    """The effective ``-o`` value word of ``name`` exactly as written, or None."""
    cf = parse_or_refuse(text, file)
    service = cf.find(service_key)
    override = service.override(name) if service else None
    if override is None or override.token is None:
        return None
    lines = split_lines(text)
    start, end = _span(lines, override.token, override.token)
    return text[start:end]


def _offset(lines: list[str], line: int, column: int) -> int:
    return line_offsets(lines)[line - 1] + column


def _span(lines: list[str], first: Token, last: Token) -> tuple[int, int]:
    """Text offsets from the start of ``first`` to the end of ``last``."""
    offsets = line_offsets(lines)
    return (
        offsets[first.line - 1] + first.column,
        offsets[last.end_line - 1] + last.end_column,
    )


def set_override(
    text: str,
    service_key: str,
    name: str,
    value_raw: str,
    file: str = _DEFAULT_FILE,
    *,
    written: str | None = None,
) -> str:
    """``text`` with ``-o name=value_raw`` effective on the entry ``service_key``.

    ``written`` is the exact value word to use (e.g. the last-known-good
    file's ``{ name = value }``); it must parse as ``name`` = ``value_raw``.
    """
    cf = parse_or_refuse(text, file)
    service = _entry(cf, service_key, file)
    existing = service.override(name)
    if written is None:
        word = format_override(name, value_raw, existing is not None and existing.long_form)
    elif _parses_as(written, name, value_raw):
        word = written
    else:
        raise ValueError(f"{written!r} is not -o {name}={value_raw!r}")
    lines = split_lines(text)
    if existing is not None and existing.token is not None:
        start, end = _span(lines, existing.token, existing.token)
        return text[:start] + word + text[end:]
    return _insert(text, lines, service, f"-o {word}")


def _indent(lines: list[str], service: Service) -> str:
    """The indentation of the entry's last continuation line ("  " if it has none)."""
    for number in range(service.end_line, service.line, -1):
        line = body(lines[number - 1])
        stripped = line.lstrip(POSTFIX_SPACE)
        if stripped and not stripped.startswith("#"):
            return line[: len(line) - len(stripped)]
    return "  "


def _insert(text: str, lines: list[str], service: Service, words: str) -> str:
    if service.options_end < len(service.args):
        # Words after the options are the command's own: the new option goes before them.
        first = service.args[service.options_end]
        line = body(lines[first.line - 1])
        at = _offset(lines, first.line, first.column)
        if first.line > service.line and not line[: first.column].strip(POSTFIX_SPACE):
            new_line = line[: first.column] + words + cr_of(lines[first.line - 1]) + "\n"
            start = _offset(lines, first.line, 0)
            return text[:start] + new_line + text[start:]
        return text[:at] + words + " " + text[at:]
    last = lines[service.end_line - 1]
    new_line = _indent(lines, service) + words + cr_of(last)
    if last.endswith("\n"):
        new_line += "\n"
    else:
        new_line = "\n" + new_line
    start = _offset(lines, service.end_line + 1, 0)
    return text[:start] + new_line + text[start:]


def remove_override(text: str, service_key: str, name: str, file: str = _DEFAULT_FILE) -> str:
    """``text`` without any ``-o name=...`` on the entry ``service_key``."""
    cf = parse_or_refuse(text, file)
    service = _entry(cf, service_key, file)
    doomed = [o for o in service.overrides if o.name == name]
    for override in reversed(doomed):
        text = _remove(text, override)
    return text


def _remove(text: str, override: Override) -> str:
    assert override.option is not None and override.token is not None
    lines = split_lines(text)
    start, end = _span(lines, override.option, override.token)
    first, last = override.option.line, override.token.end_line
    offsets = line_offsets(lines)
    line_start, line_end = offsets[first - 1], offsets[last - 1] + len(body(lines[last - 1]))
    before, after = text[line_start:start], text[end:line_end]
    if not before.strip(POSTFIX_SPACE) and not after.strip(POSTFIX_SPACE):
        # Nothing else on these lines: they go, with their newline.
        return text[:line_start] + text[offsets[last] :]
    if not before.strip(POSTFIX_SPACE):
        # First word on its line: keep the indentation, drop the blanks after it.
        return text[:start] + after.lstrip(_BLANKS) + text[line_end:]
    return text[:line_start] + before.rstrip(_BLANKS) + after + text[line_end:]
