"""Dovecot value forms: numbers as its settings parser reads them, and doveconf's quoting.

Dovecot reads an unsigned number as decimal unless it starts with ``0``; only
then is it octal. So ``mode = 660`` is 660 decimal, which doveconf prints as
``01224`` and which makes a socket 0224 -- unusable for a client.

>>> dovecot_number("660"), dovecot_number("0660"), dovecot_number("0")
(660, 432, 0)
>>> format_octal(dovecot_number("660"))
'01224'
>>> dovecot_number("0789") is None, dovecot_number(" 0600") is None
(True, True)
"""

from __future__ import annotations

__all__ = [
    "UINT_MAX",
    "display_value",
    "dovecot_number",
    "format_octal",
    "needs_quotes",
    "quote_value",
]

#: Dovecot stores these settings in a C ``unsigned int``.
UINT_MAX = 2**32 - 1
_ULLONG_MAX = 2**64 - 1
_DIGITS = frozenset("0123456789")
_OCTAL_DIGITS = frozenset("01234567")


def dovecot_number(value: str) -> int | None:
    """The number Dovecot's settings parser makes of ``value``, or None where it is fatal.

    Mirrors ``get_octal()`` of Dovecot 2.3: a leading ``0`` means octal (wrapped to
    32 bits as the C cast does), anything else must be plain decimal digits that
    fit an unsigned int.

    >>> dovecot_number("0600"), dovecot_number("600"), dovecot_number("00")
    (384, 600, 0)
    >>> [dovecot_number(v) for v in ("", "-1", "0x1ff", "4294967296", "1e3")]
    [None, None, None, None, None]
    """
    if not value:
        return None
    if value[0] == "0":
        if not set(value) <= _OCTAL_DIGITS:
            return None
        number = int(value, 8)
        return None if number > _ULLONG_MAX else number & UINT_MAX
    if not set(value) <= _DIGITS:
        return None
    number = int(value)
    return None if number > UINT_MAX else number


def format_octal(number: int) -> str:
    """How doveconf prints an octal setting such as ``mode``.

    >>> format_octal(0o660), format_octal(0)
    ('0660', '00')
    """
    return "0" + format(number, "o")


def needs_quotes(value: str) -> bool:
    """doveconf's ``value_need_quote()``: a ``#`` or white space at either end.

    >>> needs_quotes(" quota"), needs_quotes("a#b"), needs_quotes("a b")
    (True, True, False)
    """
    if not value:
        return False
    return "#" in value or value[0] in " \t" or value[-1] in " \t"


def quote_value(value: str) -> str:
    """A value as doveconf prints it, quoted and escaped where it must be.

    >>> quote_value(' a"b'), quote_value("plain value")
    ('" a\\\\"b"', 'plain value')
    """
    if not needs_quotes(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("'", "\\'")
    return f'"{escaped}"'


def display_value(value: str) -> str:
    """A value for a one-line human rendering: quoted when needed, newlines shown as \\n.

    >>> display_value("a\\nb")
    'a\\\\nb'
    """
    return quote_value(value).replace("\n", "\\n")
