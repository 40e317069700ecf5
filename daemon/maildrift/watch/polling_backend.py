"""The last resort: stat-polling, for directories inotify cannot watch.

It needs no kernel resources, so it works when the inotify watch or instance
limit is exhausted, at the price of latency (one interval, default 1 s) and
of kinds it cannot see (see ``maildrift.watch.matrix``): a rename shows up as
``moved_to`` on the name that now holds another inode, a move out of the
directory as ``delete``, a moved or deleted directory as ``delete_self``.
"""

from __future__ import annotations

import os
from typing import Callable

from maildrift.watch.events import Reporter, Sink
from maildrift.watch.scan import PeriodicThread, ScanSet, default_is_secret

__all__ = ["DEFAULT_POLL_INTERVAL", "PollingWatcher"]

DEFAULT_POLL_INTERVAL = 1.0


class PollingWatcher:
    """Snapshots each directory every ``interval`` seconds and reports the differences."""

    backend = "poll"

    def __init__(
        self,
        sink: Sink,
        *,
        interval: float = DEFAULT_POLL_INTERVAL,
        is_secret: Callable[[str], bool] = default_is_secret,
    ) -> None:
        self._reporter = Reporter(sink)
        self._scans = ScanSet(self._reporter, is_secret)
        self._thread = PeriodicThread("maildrift-poll", interval, self.scan_now)

    @property
    def errors(self) -> int:
        return self._reporter.errors + self._thread.errors

    def add_directory(self, path: str) -> None:
        # The first snapshot is taken here, so a change right after the call is seen.
        self._scans.add(os.path.normpath(os.path.abspath(path)))

    def remove_directory(self, path: str) -> None:
        self._scans.remove(os.path.normpath(os.path.abspath(path)))

    def directories(self) -> list[str]:
        return self._scans.paths()

    def scan_now(self) -> None:
        """One poll; the thread calls it every interval, tests may call it directly."""
        self._scans.scan(self._lost)

    def _lost(self, path: str) -> None:
        if self._scans.remove(path):
            # Polling cannot tell a deleted directory from a moved one.
            self._reporter.emit("delete_self", path)
            self._reporter.emit("watch_removed", path)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._thread.stop()

    def alive(self) -> bool:
        return self._thread.alive()
