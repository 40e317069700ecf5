"""dovecot.conf lines into statements, as Dovecot's ``config_parse_line()`` reads them.

Pure: text in, statements out. Each statement keeps its file, its physical line
span, the raw lines, and (for a one-line setting) the columns of the value, so a
later writer can replace one value and leave the rest of the file untouched.

Sample input::

    # comments only where a line starts with '#', or after white space
    auth_mechanisms = plain login   # trailing comment
    service auth {
      unix_listener /var/spool/postfix/private/auth {
        mode = 0660
      }
    }
    mail_plugins = $mail_plugins quota
    ssl_key = </etc/pki/dovecot/private/dovecot.pem
    !include conf.d/*.conf

>>> st = lex_dovecot("auth_mechanisms = plain login   # c\\nservice auth {\\n}\\n", "d.conf")
>>> [(s.kind, s.key, s.value, s.line) for s in st]  # doctest: +NORMALIZE_WHITESPACE
[('assign', 'auth_mechanisms', 'plain login', 1), ('begin', 'service', 'auth', 2),
 ('end', '}', '', 3)]
>>> st[0].raw_lines[0][st[0].value_start:st[0].value_end]
'plain login'
>>> lex_dovecot('a = "x \\\\" y"\\n', "d.conf")[0].value
'x " y'
>>> lex_dovecot("service auth {}\\n", "d.conf")
Traceback (most recent call last):
...
maildrift.errors.ConfigError: d.conf:1: Garbage after '{'
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from maildrift.errors import ConfigError

__all__ = [
    "Statement",
    "detect_version",
    "lex_dovecot",
    "unescape",
]

# 2.3 uses IS_WHITE (space, tab); 2.4 uses i_isspace.
_WHITE = {"2.3": " \t", "2.4": " \t\n\r\v\f"}
_VERSION_LINE = re.compile(r"[ \t]*dovecot_config_version[ \t]*=")


@dataclass(frozen=True)
class Statement:
    """One logical line: ``assign``, ``begin`` (a section), ``end`` or ``include``.

    ``value`` is the setting's value after unquoting (``assign``), the section
    name or None (``begin``), or the include pattern (``include``). ``value_kind``
    is ``plain``, ``quoted``, ``file`` (``<path``) or ``variable`` (contains ``$``,
    expanded later); for ``include`` it is ``include`` or ``include_try``.
    """

    kind: str
    key: str
    value: str | None
    value_kind: str
    file: str
    line: int
    end_line: int
    raw_lines: tuple[str, ...]
    value_start: int | None = None
    value_end: int | None = None
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def raw_value(self) -> str | None:
        """The value exactly as written on its line, when it sits on one line."""
        if self.value_start is None or self.value_end is None:
            return None
        return self.raw_lines[0][self.value_start : self.value_end]


def detect_version(text: str) -> str:
    """``"2.4"`` when the first statement sets ``dovecot_config_version``, else ``"2.3"``.

    >>> detect_version("# x\\n\\ndovecot_config_version = 2.4.1\\n"), detect_version("a = 1\\n")
    ('2.4', '2.3')
    """
    for line in text.split("\n"):
        stripped = line.strip(" \t\r")
        if not stripped or stripped.startswith("#"):
            continue
        return "2.4" if _VERSION_LINE.match(line) else "2.3"
    return "2.3"


def unescape(text: str, version: str = "2.3") -> str:
    """``str_unescape()`` (2.3: backslash keeps any next character) or 2.4's stricter form.

    >>> unescape(r'a\\"b\\\\c\\x'), unescape(r"end\\\\")
    ('a"b\\\\cx', 'end\\\\')
    """
    out = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 1
            if i >= len(text):
                break
            char = text[i]
            if version == "2.4" and char not in '\\"':
                raise ValueError(f"Unknown escape sequence \\{char}")
        out.append(char)
        i += 1
    return "".join(out)


def lex_dovecot(text: str, path: str, version: str = "2.3") -> list[Statement]:
    """Every non-empty logical line of one file; syntax errors raise ConfigError(path, line)."""
    return list(_lex_cached(text, path, version))


@functools.lru_cache(maxsize=256)
def _lex_cached(text: str, path: str, version: str) -> tuple[Statement, ...]:
    # Pure, so memoised: the daemon re-reads a tree where most files did not change.
    return tuple(_lex(text, path, version))


def _lex(text: str, path: str, version: str) -> list[Statement]:
    white = _WHITE.get(version, _WHITE["2.3"])
    lines = text.split("\n")
    complete = len(lines) - 1
    statements: list[Statement] = []
    pending: list[str] = []  # raw lines of a continuation in progress
    joined = ""
    first = 0
    for number, raw in enumerate(lines, 1):
        if number > complete and raw == "":
            break
        # The istream drops the CR of a CRLF line end; a last line without LF keeps it.
        physical = raw[:-1] if number <= complete and raw.endswith("\r") else raw
        stripped = physical.lstrip(white)
        pos = len(physical) - len(stripped)
        if not stripped or stripped[0] == "#":
            # A blank or comment line after a '\' continuation throws the
            # gathered text away, as doveconf does.
            pending, joined = [], ""
            continue
        end, warning = _comment_start(physical, pos, white)
        while end > pos and physical[end - 1] in white:
            end -= 1
        if not pending:
            first = number
        pending.append(raw)
        if end > pos and physical[end - 1] == "\\":
            cut = end - 1
            while cut > pos and physical[cut - 1] in white:
                cut -= 1
            if cut > pos:
                joined += physical[pos:cut] + " "
            continue
        if len(pending) == 1:
            logical, base = physical[pos:end], pos
        else:
            logical, base = joined + physical[pos:end], None
        warnings = (warning,) if warning else ()
        statements.append(
            _statement(logical, base, path, first, number, tuple(pending), version, warnings)
        )
        pending, joined = [], ""
    return statements


def _skip(text: str, pos: int, white: str) -> int:
    while pos < len(text) and text[pos] in white:
        pos += 1
    return pos


def _comment_start(line: str, pos: int, white: str) -> tuple[int, str | None]:
    """Where a ``#`` comment starts (quotes protect it); warn where doveconf warns."""
    if "#" not in line:
        return len(line), None
    i = pos
    while i < len(line):
        char = line[i]
        if char in "'\"":
            i += 1
            while i < len(line) and line[i] != char:
                i += 2 if line[i] == "\\" and i + 1 < len(line) else 1
            if i >= len(line):
                return len(line), None
        elif char == "#":
            if line[i - 1] not in white:
                return i, (
                    "Ambiguous '#' character in line, treating it as comment. "
                    "Add a space before it to remove this warning."
                )
            return i, None
        i += 1
    return len(line), None


def _statement(
    s: str,
    base: int | None,
    path: str,
    first: int,
    last: int,
    raw_lines: tuple[str, ...],
    version: str,
    warnings: tuple[str, ...],
) -> Statement:
    white = _WHITE.get(version, _WHITE["2.3"])

    def make(
        kind: str,
        key: str,
        value: str | None,
        vkind: str,
        start: int | None = None,
        stop: int | None = None,
    ) -> Statement:
        if base is None or start is None or stop is None:
            start = stop = None
        else:
            start, stop = base + start, base + stop
        return Statement(
            kind, key, value, vkind, path, first, last, raw_lines, start, stop, warnings
        )

    def fail(message: str) -> ConfigError:
        # doveconf names the last physical line of a continued line.
        return ConfigError(message, path, last)

    i = 0
    key_quoted = False
    if version == "2.4" and s.startswith('"'):
        # 2.4 allows "quoted key" = value.
        i = 1
        while i < len(s) and s[i] != '"':
            i += 2 if s[i] == "\\" and i + 1 < len(s) else 1
        try:
            key = unescape(s[1:i], version)
        except ValueError as exc:
            raise fail(str(exc)) from None
        i = min(i + 1, len(s))
        key_quoted = True
    else:
        while i < len(s) and s[i] not in white and s[i] != "=":
            i += 1
        key = s[:i]
    rest = _skip(s, i, white)

    if not key_quoted and key in ("!include", "!include_try"):
        return make("include", key, s[rest:], key[1:], rest, len(s))

    if rest < len(s) and s[rest] == "=":
        if not key:
            raise fail("Missing key name ('=' at the beginning of line)")
        v = _skip(s, rest + 1, white)
        value = s[v:]
        if value.startswith("<"):
            p = _skip(s, v + 1, white)
            return make("assign", key, s[p:], "file", v, len(s))
        if value and value[0] not in "'\"" and "$" in value:
            return make("assign", key, value, "variable", v, len(s))
        if value and value[0] in "'\"" and value[-1] == value[0]:
            try:
                inner = unescape(value[1:-1], version)
            except ValueError as exc:
                raise fail(str(exc)) from None
            return make("assign", key, inner, "quoted", v, len(s))
        return make("assign", key, value, "plain", v, len(s))

    if key == "}" and rest == len(s):
        return make("end", key, "", "end")

    if version == "2.4" and key == "group":
        # 2.4: group @name value {
        parts = s[rest:].split(None, 2)
        if len(parts) < 3 or parts[2] != "{":
            raise fail("Expecting group name" if len(parts) < 2 else "Expecting '{'")
        return make("begin", "group", f"{parts[0]} {parts[1]}", "named")

    name: str | None
    if rest < len(s) and s[rest] == "{":
        name, brace, vkind = None, rest, "unnamed"
    elif rest < len(s) and s[rest] == '"':
        close = s.find('"', rest + 1)
        if close < 0:
            raise fail("Expecting '{'")
        try:
            name = unescape(s[rest + 1 : close], version)
        except ValueError as exc:
            raise fail(str(exc)) from None
        brace, vkind = _skip(s, close + 1, white), "quoted"
    else:
        stop = rest
        while stop < len(s) and s[stop] not in white:
            stop += 1
        name, brace, vkind = s[rest:stop], _skip(s, stop, white), "named"
    if brace >= len(s) or s[brace] != "{":
        raise fail("Expecting '{'")
    if brace + 1 != len(s):
        raise fail("Garbage after '{'")
    if name == "":
        # An empty name, even quoted, makes doveconf number the section like an unnamed one.
        name, vkind = None, "unnamed"
    return make("begin", key, name, vkind)
