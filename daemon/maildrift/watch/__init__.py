"""Watching configuration directories: pyinotify first, then watchdog, then polling.

Backends only report events to a sink; they never evaluate anything.
"""

from __future__ import annotations

import errno

from maildrift.watch.events import KINDS, WatchEvent, make_event

__all__ = ["KINDS", "FallbackWatcher", "WatchEvent", "make_event", "make_watcher"]


class FallbackWatcher:
    """pyinotify where it can watch; a directory it cannot watch goes to another backend.

    ENOSPC (the inotify watch limit) sends the directory to a stat-polling
    watcher; any other pyinotify failure to watchdog.  ``backend`` names the
    weakest backend in use, which is what ``maildrift_watch_backend_info`` shows.
    """

    def __init__(self, sink, scan_interval: float = 5.0, is_secret=lambda path: False) -> None:
        self.sink = sink
        self.scan_interval = scan_interval
        self.is_secret = is_secret
        self.primary = None
        self.reason = ""
        try:
            from maildrift.watch.pyinotify_backend import PyinotifyWatcher

            self.primary = PyinotifyWatcher(sink)
        except Exception as exc:
            self.reason = f"pyinotify unavailable: {exc}"
        self.secondary = None
        self.poller = None
        self._started = False

    def _watchdog(self):
        if self.secondary is None:
            from maildrift.watch.watchdog_backend import WatchdogWatcher

            self.secondary = WatchdogWatcher(self.sink, self.scan_interval, self.is_secret)
            if self._started:
                self.secondary.start()
        return self.secondary

    def _poll(self):
        if self.poller is None:
            from maildrift.watch.polling_backend import PollingWatcher

            self.poller = PollingWatcher(self.sink, 1.0, self.is_secret)
            if self._started:
                self.poller.start()
        return self.poller

    @property
    def backend(self) -> str:
        if self.poller is not None and self.poller.directories():
            return "poll"
        if self.secondary is not None and (self.primary is None or self.secondary.directories()):
            return "watchdog"
        return "pyinotify"

    def _backends(self):
        return [b for b in (self.primary, self.secondary, self.poller) if b is not None]

    def add_directory(self, path: str) -> None:
        if self.primary is not None:
            try:
                self.primary.add_directory(path)
                return
            except OSError as exc:
                if exc.errno == errno.ENOSPC or "ENOSPC" in str(exc) or "limit" in str(exc):
                    self.reason = f"inotify watch limit reached at {path}"
                    self._poll().add_directory(path)
                    return
                self.reason = f"pyinotify could not watch {path}: {exc}"
        self._watchdog().add_directory(path)

    def remove_directory(self, path: str) -> None:
        for backend in self._backends():
            backend.remove_directory(path)

    def directories(self) -> list[str]:
        found: list[str] = []
        for backend in self._backends():
            found += [d for d in backend.directories() if d not in found]
        return found

    def start(self) -> None:
        self._started = True
        if self.primary is None:
            self._watchdog()
        for backend in self._backends():
            backend.start()

    def stop(self) -> None:
        for backend in self._backends():
            backend.stop()

    def alive(self) -> bool:
        return all(b.alive() for b in self._backends())


def make_watcher(sink, scan_interval: float = 5.0, is_secret=lambda path: False):
    return FallbackWatcher(sink, scan_interval, is_secret)
