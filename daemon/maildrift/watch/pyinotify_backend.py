"""The default watcher: raw inotify through pyinotify, overflow included."""

from __future__ import annotations

import os

import pyinotify

from maildrift.watch.events import make_event

__all__ = ["MASK", "PyinotifyWatcher", "WatchAddError"]

MASK = (
    pyinotify.IN_CLOSE_WRITE
    | pyinotify.IN_MOVED_TO
    | pyinotify.IN_MOVED_FROM
    | pyinotify.IN_CREATE
    | pyinotify.IN_DELETE
    | pyinotify.IN_ATTRIB
    | pyinotify.IN_DELETE_SELF
    | pyinotify.IN_MOVE_SELF
    | pyinotify.IN_ONLYDIR
)
_KINDS = (
    (pyinotify.IN_Q_OVERFLOW, "overflow"),
    (pyinotify.IN_IGNORED, "watch_removed"),
    (pyinotify.IN_CLOSE_WRITE, "close_write"),
    (pyinotify.IN_MOVED_TO, "moved_to"),
    (pyinotify.IN_MOVED_FROM, "moved_from"),
    (pyinotify.IN_CREATE, "create"),
    (pyinotify.IN_DELETE, "delete"),
    (pyinotify.IN_ATTRIB, "attrib"),
    (pyinotify.IN_DELETE_SELF, "delete_self"),
    (pyinotify.IN_MOVE_SELF, "move_self"),
)


class WatchAddError(OSError):
    """A directory could not be watched (ENOSPC: the inotify watch limit)."""


class _Handler(pyinotify.ProcessEvent):
    def my_init(self, watcher=None):
        self.watcher = watcher

    def process_default(self, event):
        self.watcher._deliver(event)

    def process_IN_Q_OVERFLOW(self, event):
        # pyinotify's own handler only logs a warning; the daemon must rescan.
        self.watcher._deliver(event)


class PyinotifyWatcher:
    backend = "pyinotify"

    def __init__(self, sink) -> None:
        self.sink = sink
        self.errors = 0
        self._wm = pyinotify.WatchManager()
        self._notifier = pyinotify.ThreadedNotifier(self._wm, _Handler(watcher=self))
        self._notifier.daemon = True
        self._wds: dict[str, int] = {}

    def _deliver(self, event) -> None:
        try:
            kind = next((name for bit, name in _KINDS if event.mask & bit), "modify")
            path = getattr(event, "pathname", "") or ""
            if kind in ("watch_removed", "delete_self", "move_self"):
                # The watch follows the old inode: forget it so a recreated
                # directory of the same name gets a new watch.
                path = getattr(event, "path", path)
                wd = self._wds.pop(os.path.normpath(path), None)
                if wd is not None and kind != "watch_removed":
                    self._wm.rm_watch(wd, quiet=True)
            self.sink(make_event(kind, path, getattr(event, "cookie", 0) or 0))
        except Exception:
            self.errors += 1

    def add_directory(self, path: str) -> None:
        path = os.path.normpath(path)
        if path in self._wds:
            return
        try:
            result = self._wm.add_watch(path, MASK, quiet=False)
        except pyinotify.WatchManagerError as exc:
            raise WatchAddError(str(exc)) from None
        wd = result.get(path, -1)
        if wd < 0:
            raise WatchAddError(f"cannot watch {path}")
        self._wds[path] = wd

    def remove_directory(self, path: str) -> None:
        wd = self._wds.pop(os.path.normpath(path), None)
        if wd is not None:
            self._wm.rm_watch(wd, quiet=True)

    def directories(self) -> list[str]:
        return list(self._wds)

    def start(self) -> None:
        self._notifier.start()

    def stop(self) -> None:
        self._notifier.stop()

    def alive(self) -> bool:
        return self._notifier.is_alive()
