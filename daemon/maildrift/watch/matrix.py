"""What each backend reports in each situation: one table for the code, the tests and the docs.

The conformance tests perform each situation against each backend and
assert exactly these kinds for the situation's path; they also assert that
a backend never reports a kind outside its column.  docs/watching.md embeds
``render_markdown()`` verbatim, and a test checks it, so the documented
limits cannot drift from the code.

>>> sorted(MATRIX["chmod"]["watchdog-6"])
['attrib', 'modify']
>>> "overflow" in cannot_produce("poll")
True
"""

from __future__ import annotations

from maildrift.watch.events import KINDS

__all__ = [
    "COLUMNS",
    "MATRIX",
    "NOTES",
    "cannot_produce",
    "column_for",
    "produces",
    "render_markdown",
]

#: watchdog's column depends on its major version (6.x is the last for Python 3.9).
COLUMNS = ("pyinotify", "watchdog-7", "watchdog-6", "poll")


def _row(pyinotify, watchdog7, watchdog6, poll) -> dict[str, frozenset[str]]:
    cells = (pyinotify, watchdog7, watchdog6, poll)
    return {column: frozenset(kinds) for column, kinds in zip(COLUMNS, cells)}


_MOVED_TO = ("moved_to",)
_GONE = ("delete_self", "watch_removed")
#: situation -> column -> the kinds that arrive for the situation's path.  The
#: watchdog columns include what its periodic scan adds (duplicates merge).
MATRIX: dict[str, dict[str, frozenset[str]]] = {
    "write in place": _row(
        ("close_write",), ("close_write",), ("modify", "close_write"), ("close_write",)
    ),
    "mv tmp main.cf: main.cf": _row(_MOVED_TO, _MOVED_TO, _MOVED_TO, _MOVED_TO),
    "mv tmp main.cf: tmp": _row(
        ("moved_from",), ("moved_from", "delete"), ("moved_from", "delete"), ("delete",)
    ),
    "sed -i": _row(_MOVED_TO, _MOVED_TO, _MOVED_TO, _MOVED_TO),
    "chmod": _row(("attrib",), ("attrib",), ("modify", "attrib"), ("attrib",)),
    "create": _row(*[("create", "close_write")] * 3, ("create",)),
    "delete": _row(*[("delete",)] * 4),
    "move out of the directory": _row(("moved_from",), ("delete",), ("delete",), ("delete",)),
    "move in from elsewhere": _row(("moved_to",), ("create",), ("create",), ("create",)),
    "watched directory deleted": _row(_GONE, _GONE, _GONE, _GONE),
    "watched directory moved": _row(("move_self", "watch_removed"), _GONE, _GONE, _GONE),
    "queue overflow": _row(("overflow",), (), (), ()),
    "written, still open (report_modify)": _row(
        ("modify",), ("modify", "close_write"), ("modify", "close_write"), ("close_write",)
    ),
}

#: (situation, column) -> when or how it arrives, where that differs from "at once".
NOTES: dict[tuple[str, str], str] = {
    ("chmod", "watchdog-6"): "attrib from the scan",
    ("mv tmp main.cf: tmp", "watchdog-7"): "delete from the scan",
    ("mv tmp main.cf: tmp", "watchdog-6"): "delete from the scan",
    ("written, still open (report_modify)", "watchdog-7"): "close_write from the scan",
    ("written, still open (report_modify)", "watchdog-6"): "close_write from the scan",
    ("written, still open (report_modify)", "poll"): "content differs",
    ("move out of the directory", "watchdog-7"): "~0.5 s late",
    ("move out of the directory", "watchdog-6"): "~0.5 s late",
    ("watched directory moved", "watchdog-7"): "by the scan",
    ("watched directory moved", "watchdog-6"): "by the scan",
    ("queue overflow", "watchdog-7"): "the scan finds the differences",
    ("queue overflow", "watchdog-6"): "the scan finds the differences",
    ("queue overflow", "poll"): "nothing queued to lose",
}


def column_for(backend: str, watchdog_major: int | None = None) -> str:
    """The matrix column of a backend name; watchdog's needs its major version."""
    if backend != "watchdog":
        return backend
    if watchdog_major is None:
        from watchdog.version import VERSION_MAJOR as watchdog_major
    return "watchdog-7" if watchdog_major >= 7 else "watchdog-6"


def produces(column: str) -> frozenset[str]:
    """Every kind the column's backend can report (``modify`` only with report_modify)."""
    return frozenset().union(*(row[column] for row in MATRIX.values()))


def cannot_produce(column: str) -> frozenset[str]:
    return KINDS - produces(column)


def render_markdown() -> str:
    """The matrix as the Markdown table docs/watching.md embeds."""
    lines = [
        "| situation | " + " | ".join(COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
    ]
    for situation, row in MATRIX.items():
        cells = []
        for column in COLUMNS:
            text = ", ".join(sorted(row[column])) or "—"
            note = NOTES.get((situation, column))
            cells.append(f"{text} ({note})" if note else text)
        lines.append(f"| {situation} | " + " | ".join(cells) + " |")
    lines.append(
        "| **cannot produce** | "
        + " | ".join(", ".join(sorted(cannot_produce(c))) or "—" for c in COLUMNS)
        + " |"
    )
    return "\n".join(lines) + "\n"
