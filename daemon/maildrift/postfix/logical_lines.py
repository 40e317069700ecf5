"""Postfix's logical-line reader (readlline(3)), shared by main.cf and master.cf.

Sample input::

    smtpd_banner = $myhostname
    # a comment does not end the logical line
        ESMTP

A line that starts with whitespace continues the previous logical line; blank
and comment lines in between are skipped without ending it.  The continuation
is appended without its newline but with its leading whitespace, exactly as
Postfix's readllines() does.

>>> [(l.text, l.first, l.last) for l in logical_lines("a = 1\\n# c\\n\\n  2\\nb=3\\n")]
[('a = 1  2', 1, 4), ('b=3', 5, 5)]
>>> logical_lines("a = 1\\n# c\\n  2\\n")[0].line_at(6)
3
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["POSTFIX_SPACE", "LogicalLine", "logical_lines"]

#: C isspace() in the "C" locale, which is what Postfix's ISSPACE() tests.
POSTFIX_SPACE = " \t\n\r\f\v"


@dataclass(frozen=True)
class LogicalLine:
    """One logical line: its joined text and the physical lines it spans (1-based)."""

    text: str
    first: int
    last: int
    #: (offset in ``text``, physical line) where each joined physical line starts.
    parts: tuple[tuple[int, int], ...] = ()

    def line_at(self, offset: int) -> int:
        """The physical line holding character ``offset`` of the joined text."""
        line = self.first
        for start, number in self.parts:
            if start > offset:
                break
            line = number
        return line


def _is_skippable(line: str) -> bool:
    stripped = line.lstrip(POSTFIX_SPACE)
    return not stripped or stripped.startswith("#")


def logical_lines(text: str) -> list[LogicalLine]:
    """Split configuration text into logical lines, as Postfix reads them.

    A first line that starts with whitespace (a continuation with nothing to
    continue) comes back with its leading whitespace, so that callers can warn
    and skip it as Postfix does.

    >>> [(l.text, l.first) for l in logical_lines("  orphan\\nx = 1\\n")]
    [('  orphan', 1), ('x = 1', 2)]
    """
    result: list[LogicalLine] = []
    current: list[str] = []
    parts: list[tuple[int, int]] = []
    size = first = last = 0
    for number, line in enumerate(text.split("\n"), start=1):
        if _is_skippable(line):
            continue
        if line[0] in POSTFIX_SPACE and current:
            parts.append((size, number))
            current.append(line)
            size += len(line)
            last = number
            continue
        if current:
            result.append(LogicalLine("".join(current), first, last, tuple(parts)))
        current = [line]
        parts = [(0, number)]
        size = len(line)
        first = last = number
    if current:
        result.append(LogicalLine("".join(current), first, last, tuple(parts)))
    return result
