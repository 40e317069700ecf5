"""Reading Postfix and Dovecot values as the daemons do: booleans, lists, sizes, times.

>>> postfix_bool("Yes"), postfix_bool("no"), postfix_bool("TRUE")
(True, False, True)
>>> split_list("noanonymous,  noplaintext  mutual_auth")
['noanonymous', 'noplaintext', 'mutual_auth']
>>> [postfix_time(t, u) for t, u in (("60s", "s"), ("2m", "s"), ("1h", "s"), ("3", "d"))]
[60, 120, 3600, 259200]
>>> postfix_size("10240000")
10240000
>>> postfix_size("10M")
Traceback (most recent call last):
...
maildrift.engine.values.ValueError_: '10M' is not a plain byte count (Postfix has no size units)
"""

from __future__ import annotations

import re

__all__ = [
    "TIME_UNITS",
    "ValueError_",
    "dovecot_number",
    "postfix_bool",
    "postfix_int",
    "postfix_size",
    "postfix_time",
    "split_list",
]

#: Seconds per Postfix time unit (conf_time.c).
TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

_LIST = re.compile(r"[\s,]+")
_TIME = re.compile(r"^(-?[0-9]+)([smhdw]?)$")
_INTEGER = re.compile(r"-?[0-9]+")
_DIGITS = re.compile(r"[0-9]+")
_OCTAL = re.compile(r"[0-7]+")


class ValueError_(ValueError):
    """A value the daemon itself would reject (a fatal configuration error)."""


def postfix_bool(text: str) -> bool | None:
    """Postfix's booleans: yes/no/true/false, case-insensitive; None for anything else."""
    lowered = text.strip().lower()
    if lowered in ("yes", "true"):
        return True
    if lowered in ("no", "false"):
        return False
    return None


def split_list(text: str) -> list[str]:
    """A Postfix list: items separated by commas and/or whitespace."""
    return [item for item in _LIST.split(text.strip()) if item]


def postfix_int(text: str) -> int:
    value = text.strip()
    if not _INTEGER.fullmatch(value):
        raise ValueError_(f"{value!r} is not a number")
    return int(value)


def postfix_size(text: str) -> int:
    """A size: Postfix accepts only a plain byte count; ``10M`` is fatal to it."""
    value = text.strip()
    if not _INTEGER.fullmatch(value):
        raise ValueError_(f"{value!r} is not a plain byte count (Postfix has no size units)")
    return int(value)


def postfix_time(text: str, default_unit: str) -> int:
    """A time in seconds; without a unit, the unit of the parameter's default."""
    match = _TIME.match(text.strip())
    if not match:
        raise ValueError_(f"{text.strip()!r} is not a time (a number with s, m, h, d or w)")
    number, unit = match.groups()
    return int(number) * TIME_UNITS[unit or default_unit]


def dovecot_number(text: str) -> int:
    """A Dovecot number: decimal, unless it starts with 0, which means octal.

    >>> dovecot_number("0660"), dovecot_number("660"), dovecot_number("0")
    (432, 660, 0)
    """
    value = text.strip()
    if not _DIGITS.fullmatch(value):
        raise ValueError_(f"{value!r} is not a number")
    if len(value) > 1 and value.startswith("0"):
        if not _OCTAL.fullmatch(value):
            raise ValueError_(f"{value!r} is not an octal number")
        return int(value, 8)
    return int(value)
