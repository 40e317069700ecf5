"""What every surgical edit shares: the refusal, and splicing physical lines.

A text is handled as its physical lines, split at ``\\n`` only (the way Postfix
and Dovecot count lines); a ``\\r`` before the ``\\n`` stays part of the line's
body. Everything outside the lines an edit touches is kept byte for byte.

>>> lines = split_lines("a\\r\\nb\\nc")
>>> lines
['a\\r\\n', 'b\\n', 'c']
>>> splice(lines, 2, 2, ["B1", "B2"])
'a\\r\\nB1\\nB2\\nc'
>>> splice(lines, 3, 3, ["C"]), splice(lines, 1, 2, [])
('a\\r\\nb\\nC', 'c')
>>> append_lines("x = 1", ["y = 2"])
'x = 1\\ny = 2\\n'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable, TypeVar

from maildrift.errors import ConfigError, MaildriftError

__all__ = [
    "SurgeryImpossible",
    "append_lines",
    "body",
    "cr_of",
    "line_offsets",
    "parsed",
    "splice",
    "split_lines",
]


class SurgeryImpossible(MaildriftError):
    """A surgical edit cannot be made; the caller restores the whole file instead.

    >>> str(SurgeryImpossible("section service auth is gone", "/etc/dovecot/dovecot.conf"))
    '/etc/dovecot/dovecot.conf: surgical edit impossible: section service auth is gone'
    """

    def __init__(self, reason: str, file: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.file = file

    def __str__(self) -> str:
        where = f"{self.file}: " if self.file else ""
        return f"{where}surgical edit impossible: {self.reason}"


_Parsed = TypeVar("_Parsed")


def parsed(parse: Callable[[str, str], _Parsed], text: str, file: str, what: str) -> _Parsed:
    """``parse(text, file)``, with a parse error turned into :class:`SurgeryImpossible`."""
    try:
        return parse(text, file)
    except ConfigError as exc:
        raise SurgeryImpossible(f"{what} does not parse: {exc}", file) from None


def split_lines(text: str) -> list[str]:
    """Physical lines with their ``\\n``; line N is item N-1; no empty last item."""
    lines = text.split("\n")
    result = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        result.append(lines[-1])
    return result


def body(line: str) -> str:
    """A physical line without its ``\\n`` (a ``\\r`` stays)."""
    return line[:-1] if line.endswith("\n") else line


def cr_of(line: str | None) -> str:
    """``"\\r"`` when ``line`` is a CRLF line, so that a new line next to it matches it."""
    return "\r" if line is not None and body(line).endswith("\r") else ""


def line_offsets(lines: Sequence[str]) -> list[int]:
    """Offset in the text where each physical line starts (one extra: the text's end)."""
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    return offsets


def splice(lines: Sequence[str], first: int, last: int, new: Sequence[str]) -> str:
    """Replace physical lines ``first``..``last`` (1-based) by ``new`` (bodies, no ``\\n``).

    The new lines end with ``\\n``, except that the last one ends the way line
    ``last`` did (so a file without a final newline keeps having none).
    """
    ending = lines[last - 1][len(body(lines[last - 1])) :]
    replacement = "".join(line + "\n" for line in new[:-1])
    if new:
        replacement += new[-1] + ending
    return "".join(lines[: first - 1]) + replacement + "".join(lines[last:])


def append_lines(text: str, new: Sequence[str]) -> str:
    """``new`` (bodies) at the end of ``text``, after a newline ended its last line."""
    if text and not text.endswith("\n"):
        text += "\n"
    return text + "".join(line + "\n" for line in new)
