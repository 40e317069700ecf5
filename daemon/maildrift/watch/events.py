"""What every watcher backend reports: raw inotify event kinds, received-at timestamps."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

__all__ = ["KINDS", "WatchEvent", "make_event"]

#: Raw inotify semantics; ``overflow`` and ``watch_removed`` mean "rescan".
KINDS = (
    "close_write",
    "moved_to",
    "moved_from",
    "create",
    "delete",
    "attrib",
    "delete_self",
    "move_self",
    "overflow",
    "watch_removed",
    "modify",
)


@dataclass(frozen=True)
class WatchEvent:
    kind: str
    path: str
    directory: str
    name: str = ""
    cookie: int = 0
    #: CLOCK_MONOTONIC when the watcher received it (kernel delay not included).
    received_monotonic_ns: int = field(default_factory=time.monotonic_ns)


def make_event(kind: str, path: str, cookie: int = 0) -> WatchEvent:
    path = os.path.normpath(path) if path else ""
    return WatchEvent(kind, path, os.path.dirname(path), os.path.basename(path), cookie)
