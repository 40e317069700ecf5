"""The fallback watcher: watchdog, with a periodic stat-and-hash scan beside it.

watchdog's limits (see docs/watching.md): it has no overflow signal; on 6.x
an attribute change arrives as a modification; unpaired moves come about
0.5 s late; and when its root is deleted the emitter dies while the observer
lives on.  The scan every ``scan_interval`` seconds bounds what can be lost.
"""

from __future__ import annotations

import os

from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer

from maildrift.watch.events import make_event
from maildrift.watch.polling_backend import PollingWatcher

__all__ = ["WatchdogWatcher"]

_KINDS = {
    "created": "create",
    "deleted": "delete",
    "modified": "close_write",
    "closed": "close_write",
    "attrib": "attrib",
    "moved": "moved_to",
}


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event) -> None:
        self.watcher._deliver(event)


class WatchdogWatcher:
    backend = "watchdog"

    def __init__(self, sink, scan_interval: float = 5.0, is_secret=lambda path: False) -> None:
        self.sink = sink
        self.errors = 0
        self._observer = Observer()
        self._observer.daemon = True
        self._watches: dict[str, object] = {}
        self._scanner = PollingWatcher(sink, scan_interval, is_secret)

    def _deliver(self, event) -> None:
        try:
            kind = _KINDS.get(event.event_type)
            if kind is None:
                return
            if event.event_type == "moved":
                self.sink(make_event("moved_from", event.src_path))
                self.sink(make_event("moved_to", event.dest_path))
                return
            self.sink(make_event(kind, event.src_path))
        except Exception:
            self.errors += 1

    def add_directory(self, path: str) -> None:
        path = os.path.normpath(path)
        if path in self._watches:
            return
        self._watches[path] = self._observer.schedule(_Handler(self), path, recursive=False)
        self._scanner.add_directory(path)

    def remove_directory(self, path: str) -> None:
        watch = self._watches.pop(os.path.normpath(path), None)
        if watch is not None:
            self._observer.unschedule(watch)
        self._scanner.remove_directory(path)

    def directories(self) -> list[str]:
        return [d for d in self._watches if os.path.isdir(d)]

    def start(self) -> None:
        self._observer.start()
        self._scanner.start()

    def stop(self) -> None:
        self._scanner.stop()
        self._observer.stop()

    def alive(self) -> bool:
        # A deleted root kills its emitter while the observer thread lives on.
        emitters = list(getattr(self._observer, "emitters", ()))
        return (
            self._observer.is_alive()
            and self._scanner.alive()
            and all(e.is_alive() for e in emitters)
        )
