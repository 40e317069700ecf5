"""Watching configuration directories: pyinotify first, then watchdog, then polling.

Watchers are an I/O edge: they report ``WatchEvent`` values to a sink and
never evaluate anything.  See docs/watching.md for the event kinds and what
each backend cannot report (``maildrift.watch.matrix``).
"""

from __future__ import annotations

from maildrift.watch.events import (
    KINDS,
    Watcher,
    WatchError,
    WatchEvent,
    WatchLimitError,
    WatchPathError,
    make_event,
)
from maildrift.watch.selection import FallbackWatcher, make_watcher, select_backend

__all__ = [
    "KINDS",
    "FallbackWatcher",
    "WatchError",
    "WatchEvent",
    "WatchLimitError",
    "WatchPathError",
    "Watcher",
    "make_event",
    "make_watcher",
    "select_backend",
]
