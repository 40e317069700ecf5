"""master.cf parsing: services in file order, with ``-o`` overrides and provenance.

Sample input::

    smtp       inet  n  -  y  -  -  smtpd
    submission inet  n  -  y  -  -  smtpd
      -o smtpd_sasl_auth_enable=yes
      -o { smtpd_sasl_security_options = noanonymous, noplaintext }

>>> mc = parse_master_cf(
...     "smtp inet n - y - - smtpd\\n"
...     "submission inet n - y - - smtpd\\n"
...     "  -o smtpd_sasl_auth_enable=yes\\n"
...     "  -o { smtpd_sasl_security_options = noanonymous, noplaintext }\\n",
...     "/etc/postfix/master.cf")
>>> [s.key for s in mc.services]
['smtp/inet', 'submission/inet']
>>> sub = mc.services[1]
>>> [(o.name, o.line) for o in sub.overrides]
[('smtpd_sasl_auth_enable', 3), ('smtpd_sasl_security_options', 4)]
>>> sub.override("smtpd_sasl_security_options").value_raw
'noanonymous, noplaintext'
>>> sub.fields()["command"]
'smtpd -o smtpd_sasl_auth_enable=yes -o {smtpd_sasl_security_options=noanonymous, noplaintext}'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from maildrift.errors import ConfigError
from maildrift.postfix.logical_lines import POSTFIX_SPACE, LogicalLine, logical_lines
from maildrift.postfix.maincf import Diagnostic, display_value, split_nameval

__all__ = ["FIELD_NAMES", "MasterCf", "Override", "Service", "parse_master_cf"]

#: The names ``postconf -F`` gives the eight fields.
FIELD_NAMES = (
    "service",
    "type",
    "private",
    "unprivileged",
    "chroot",
    "wakeup",
    "process_limit",
    "command",
)
_TYPES = frozenset({"inet", "unix", "fifo", "pass", "unix-dgram"})
_FLAG = re.compile(r"^[yn-]$")
_WAKEUP = re.compile(r"^(-|[0-9]+\??)$")
_LIMIT = re.compile(r"^(-|[0-9]+)$")
_WORDS = re.compile(f"[^{re.escape(POSTFIX_SPACE)}]+")
# Daemon options that take the next argument as their value (master(5)).
_OPTIONS_WITH_VALUE = "o"


@dataclass(frozen=True)
class Override:
    """One ``-o name=value`` (or ``-o { name = value }``) on a service.

    ``option`` and ``token`` are the ``-o`` word and the value word, with their
    physical positions (for edits that keep the rest of the file as it is).
    """

    name: str
    value_raw: str
    line: int
    long_form: bool
    option: Token | None = field(default=None, compare=False, repr=False)
    token: Token | None = field(default=None, compare=False, repr=False)

    @property
    def value(self) -> str:
        return display_value(self.value_raw)


@dataclass(frozen=True)
class Token:
    """A word of an entry; ``column``..``end_column`` (exclusive) locate it on its
    physical lines ``line``..``end_line`` (a ``{ ... }`` word may span lines)."""

    text: str
    line: int
    column: int = field(default=0, compare=False)
    end_line: int = field(default=0, compare=False)
    end_column: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Service:
    """One master.cf entry; ``effective`` is False when a later entry replaces it."""

    service: str
    type: str
    private: str
    unprivileged: str
    chroot: str
    wakeup: str
    process_limit: str
    command: str
    args: tuple[Token, ...]
    overrides: tuple[Override, ...]
    file: str
    line: int
    end_line: int
    effective: bool = True
    #: Index in ``args`` of the first word that is not a daemon option (len(args) if none).
    options_end: int = field(default=0, compare=False)

    @property
    def key(self) -> str:
        return f"{self.service}/{self.type}"

    def fields(self) -> dict[str, str]:
        """The eight fields as ``postconf -F`` prints them."""
        words = [self.command]
        previous = ""
        for token in self.args:
            words.append(_display_arg(token.text, after_o=previous == "-o"))
            previous = token.text
        values = (self.service, self.type, self.private, self.unprivileged, self.chroot)
        values += (self.wakeup, self.process_limit, " ".join(words))
        return dict(zip(FIELD_NAMES, values))

    def override(self, name: str) -> Override | None:
        """The override master passes for ``name``: the last ``-o`` wins."""
        found = None
        for item in self.overrides:
            if item.name == name:
                found = item
        return found


@dataclass(frozen=True)
class MasterCf:
    """Every entry of one master.cf, in file order."""

    file: str
    services: tuple[Service, ...]
    warnings: tuple[Diagnostic, ...] = ()

    def effective_services(self) -> tuple[Service, ...]:
        # Frozen dataclass: derived views are cached beside the fields, once per parse.
        found = self.__dict__.get("_effective")
        if found is None:
            found = tuple(s for s in self.services if s.effective)
            object.__setattr__(self, "_effective", found)
        return found

    def running(self, command: str) -> tuple[Service, ...]:
        """The effective entries whose command is ``command`` (smtpd, anvil, ...)."""
        by_command = self.__dict__.get("_by_command")
        if by_command is None:
            by_command = {}
            for service in self.effective_services():
                by_command.setdefault(service.command, []).append(service)
            by_command = {k: tuple(v) for k, v in by_command.items()}
            object.__setattr__(self, "_by_command", by_command)
        return by_command.get(command, ())

    def find(self, key: str) -> Service | None:
        """The effective entry for ``service/type``."""
        index = self.__dict__.get("_index")
        if index is None:
            index = {s.key: s for s in self.services if s.effective}
            # Frozen dataclass: cache the index beside the fields, once per parse.
            object.__setattr__(self, "_index", index)
        return index.get(key)


def _display_arg(text: str, after_o: bool) -> str:
    """postconf's normal form: braces only where the text holds whitespace."""
    if not (text.startswith("{") and text.endswith("}")):
        return text
    inner = text[1:-1].strip(POSTFIX_SPACE)
    if after_o:
        try:
            name, value = split_nameval(inner, "", 0)
        except ConfigError:
            pass
        else:
            inner = f"{name}={value}"
    if any(ch in POSTFIX_SPACE for ch in inner):
        return "{" + inner + "}"
    return inner


def _position(logical: LogicalLine, offset: int) -> tuple[int, int]:
    """(physical line, column) of character ``offset`` of the joined text."""
    line, start = logical.first, 0
    for part_start, number in logical.parts:
        if part_start > offset:
            break
        line, start = number, part_start
    return line, offset - start


def _token(logical: LogicalLine, word: str, start: int, end: int) -> Token:
    line, column = _position(logical, start)
    end_line, last = _position(logical, max(end - 1, start))
    return Token(word, line, column, end_line, last + 1)


def _tokens(logical: LogicalLine, file: str, warnings: list[Diagnostic]) -> list[Token]:
    """Whitespace-separated words; ``{ ... }`` keeps whitespace inside one word."""
    text = logical.text
    if "{" not in text and len(logical.parts) <= 1:
        first = logical.first
        return [Token(m.group(), first, m.start(), first, m.end()) for m in _WORDS.finditer(text)]
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        if text[i] in POSTFIX_SPACE:
            i += 1
            continue
        start = i
        level = 0
        while i < len(text) and (level > 0 or text[i] not in POSTFIX_SPACE):
            if text[i] == "{":
                level += 1
            elif text[i] == "}" and level > 0:
                level -= 1
            i += 1
        word = text[start:i]
        if level > 0:
            warnings.append(Diagnostic(file, logical.line_at(start), f"missing '}}' in \"{word}\""))
            word += "}"
        tokens.append(_token(logical, word, start, i))
    return tokens


def _check(value: str, pattern: re.Pattern[str], field: str, logical: LogicalLine, file: str):
    if not pattern.match(value):
        raise ConfigError(
            f'invalid {field} field "{value}" in "{display_value(logical.text)}"',
            file,
            logical.first,
        )


def _overrides(
    args: list[Token], file: str, warnings: list[Diagnostic]
) -> tuple[list[Override], int]:
    """The ``-o`` overrides, and the index of the first argument that is not an option."""
    found: list[Override] = []
    i = 0
    while i < len(args):
        arg = args[i].text
        if not arg.startswith("-") or arg == "--":
            break
        if len(arg) == 2 and arg[1] in _OPTIONS_WITH_VALUE and i + 1 < len(args):
            value_token = args[i + 1]
            if arg == "-o":
                text = value_token.text
                long_form = text.startswith("{") and text.endswith("}")
                if long_form:
                    text = text[1:-1].strip(POSTFIX_SPACE)
                try:
                    name, value = split_nameval(text, file, value_token.line)
                except ConfigError as exc:
                    # postconf and master only warn and skip such an override.
                    warnings.append(Diagnostic(file, value_token.line, exc.message))
                else:
                    found.append(
                        Override(name, value, value_token.line, long_form, args[i], value_token)
                    )
            i += 2
            continue
        i += 1
    return found, min(i, len(args))


def parse_master_cf(text: str, file: str) -> MasterCf:
    """Parse master.cf text; raise ConfigError where postconf would be fatal."""
    services: list[Service] = []
    warnings: list[Diagnostic] = []
    for logical in logical_lines(text):
        if logical.text[0] in POSTFIX_SPACE:
            warnings.append(
                Diagnostic(file, logical.first, "logical line must not start with whitespace")
            )
            continue
        tokens = _tokens(logical, file, warnings)
        if len(tokens) < len(FIELD_NAMES):
            raise ConfigError("bad field count", file, logical.first)
        words = [t.text for t in tokens[:8]]
        if words[1] not in _TYPES:
            raise ConfigError(
                f'invalid type field "{words[1]}" in "{display_value(logical.text)}"',
                file,
                logical.first,
            )
        for index, name in ((2, "private"), (3, "unprivileged"), (4, "chroot")):
            _check(words[index], _FLAG, name, logical, file)
        _check(words[5], _WAKEUP, "wakeup", logical, file)
        _check(words[6], _LIMIT, "process_limit", logical, file)
        args = tokens[8:]
        overrides, options_end = _overrides(args, file, warnings)
        services.append(
            Service(
                *words,
                args=tuple(args),
                overrides=tuple(overrides),
                file=file,
                line=logical.first,
                end_line=logical.last,
                options_end=options_end,
            )
        )
    last_index = {s.key: i for i, s in enumerate(services)}
    resolved = tuple(
        s if last_index[s.key] == i else _replace_effective(s) for i, s in enumerate(services)
    )
    return MasterCf(file, resolved, tuple(warnings))


def _replace_effective(service: Service) -> Service:
    return replace(service, effective=False)
