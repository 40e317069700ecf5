"""The fallback watcher: watchdog's inotify observer, with a periodic scan beside it.

Used when pyinotify cannot be imported or cannot watch a directory.  Its
events are mapped onto the raw kinds as far as watchdog allows; its limits
(asserted in ``maildrift.watch.matrix``, described in docs/watching.md):

* no overflow signal: 6.x drops an overflow silently, 7.1 logs it and
  rebuilds its watches, and neither tells the handler;
* on 6.x an attribute change arrives as a modification (reported ``modify``);
* a move out of the directory arrives as a ``delete`` about 0.5 s late, while
  watchdog waits for a partner, and holds up the events queued behind it;
  a move in arrives as ``create``;
* a renamed root is not reported at all (its watch follows the inode, with
  stale paths); a deleted root stops its emitter while the observer lives on.

So a stat-and-hash scan (``maildrift.watch.scan``) runs every
``scan_interval`` seconds and reports every difference it finds, including
ones watchdog already reported: at most one duplicate per change, a few
seconds late, is the price of never missing one.  ``alive()`` also checks
each emitter, since the observer thread alone says nothing about them.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
from typing import Callable

from watchdog import events as wd_events
from watchdog.observers.inotify import InotifyObserver

from maildrift.watch.events import Reporter, Sink, check_directory, watch_error
from maildrift.watch.scan import PeriodicThread, ScanSet, default_is_secret

__all__ = ["ATTRIB_MERGED", "DEFAULT_SCAN_INTERVAL", "WatchdogWatcher"]

DEFAULT_SCAN_INTERVAL = 5.0
#: watchdog before 7 has no attrib events: IN_ATTRIB becomes a "modified" event.
ATTRIB_MERGED = not hasattr(wd_events, "FileAttribEvent")

# Only what we map: opened/closed-no-write events would echo our own scans.
_FILTER = [
    wd_events.FileCreatedEvent,
    wd_events.DirCreatedEvent,
    wd_events.FileDeletedEvent,
    wd_events.DirDeletedEvent,
    wd_events.FileMovedEvent,
    wd_events.DirMovedEvent,
    wd_events.FileModifiedEvent,  # also what puts IN_ATTRIB in watchdog's mask
    wd_events.DirModifiedEvent,
    wd_events.FileClosedEvent,
] + [getattr(wd_events, n) for n in ("FileAttribEvent", "DirAttribEvent") if hasattr(wd_events, n)]
_KINDS = {"created": "create", "deleted": "delete", "closed": "close_write", "attrib": "attrib"}


class _Handler(wd_events.FileSystemEventHandler):
    """Routes one watch's events; ``active`` turns false when the watch is dropped."""

    def __init__(self, watcher: WatchdogWatcher, directory: str) -> None:
        self.watcher = watcher
        self.directory = directory
        self.active = True

    def dispatch(self, event) -> None:
        self.watcher._on_event(event, self)


class WatchdogWatcher:
    """One non-recursive watchdog watch per directory, plus the periodic scan."""

    backend = "watchdog"

    def __init__(
        self,
        sink: Sink,
        *,
        scan_interval: float = DEFAULT_SCAN_INTERVAL,
        is_secret: Callable[[str], bool] = default_is_secret,
        report_modify: bool = False,
    ) -> None:
        self._reporter = Reporter(sink)
        # On 6.x a chmod is only visible as "modified", so those must be reported.
        self._report_modify = report_modify or ATTRIB_MERGED
        try:
            self._observer = InotifyObserver()  # 7.x opens its inotify instance here
        except OSError as exc:
            raise watch_error(exc.errno, "(inotify instance)", exc.strerror or str(exc)) from None
        self._lock = threading.Lock()
        #: path -> (watchdog watch, handler, (st_dev, st_ino) when added)
        self._watches: dict[str, tuple[object, _Handler, tuple[int, int]]] = {}
        #: Watches lost to the file system, unscheduled later by the scan thread
        #: or the next add (unscheduling joins the emitter, which a handler must
        #: not wait for).
        self._dead: list[object] = []
        #: Serialises schedule and unschedule: watchdog keys watches by path, so
        #: a late unschedule of a lost watch would also kill its re-added twin.
        #: Never taken by handlers, so it cannot deadlock with the observer's lock.
        self._scheduling = threading.Lock()
        self._scans = ScanSet(self._reporter, is_secret)
        self._cookies = itertools.count(1)
        self._scanner = PeriodicThread("maildrift-watchdog-scan", scan_interval, self.scan_now)
        self._observer_started = self._started = self._stopped = False

    @property
    def errors(self) -> int:
        return self._reporter.errors + self._scanner.errors

    # -- the handler: runs in watchdog's observer thread, never raises ---------------

    def _on_event(self, event, handler: _Handler) -> None:
        try:
            if not handler.active:
                return
            received = time.monotonic_ns()
            root = handler.directory
            src = os.fsdecode(event.src_path)
            if event.event_type == "moved":
                # A paired rename; a shared cookie ties the halves as inotify's would.
                cookie = next(self._cookies)
                dest = os.fsdecode(event.dest_path)
                if src:
                    self._reporter.emit("moved_from", src, cookie=cookie, now_ns=received)
                if dest:
                    self._reporter.emit("moved_to", dest, cookie=cookie, now_ns=received)
                return
            if src == root:
                if event.event_type == "deleted":
                    self._lose(root)
                elif event.event_type == "attrib":
                    self._reporter.emit("attrib", root, directory=root, name="", now_ns=received)
                # "modified" on the root is watchdog's note after each create, delete
                # or move inside it: nothing the entry events did not say.
                return
            kind = _KINDS.get(event.event_type)
            if kind is None and event.event_type == "modified" and self._report_modify:
                kind = "modify"
            if kind is not None:
                self._reporter.emit(kind, src, directory=root, now_ns=received)
        except Exception:
            self._reporter.failed()

    def _lose(self, path: str) -> None:
        """The file system took ``path`` away: report it once and stop watching it."""
        with self._lock:
            entry = self._watches.pop(path, None)
            if entry is not None:
                self._dead.append(entry[0])
        if entry is None:
            return  # already reported (the handler and the scan can both notice)
        entry[1].active = False
        self._scans.remove(path)
        # watchdog reports a deleted root; a renamed one only the scan notices,
        # and it cannot tell the two apart.
        self._reporter.emit("delete_self", path)
        self._reporter.emit("watch_removed", path)

    # -- the Watcher interface --------------------------------------------------------

    def add_directory(self, path: str) -> None:
        path = os.path.normpath(os.path.abspath(path))
        identity = check_directory(path)
        with self._lock:
            if path in self._watches or self._stopped:
                return
        if not self._observer_started:
            # A running observer starts each emitter inside schedule(), so a
            # failed inotify_add_watch (ENOSPC) is raised here, to the caller.
            self._observer_started = True
            self._observer.start()
        handler = _Handler(self, path)
        with self._scheduling:
            # A deleted and recreated directory comes back before the scan
            # reaped its dead watch; without this, schedule() would reuse the
            # dead emitter registered under the same path.
            self._reap()
            try:
                watch = self._schedule(handler, path)
            except OSError as exc:
                raise watch_error(exc.errno, path, exc.strerror or str(exc)) from None
            try:
                self._scans.add(path)
            except OSError:
                handler.active = False
                self._unschedule(watch)
                raise
        with self._lock:
            self._watches[path] = (watch, handler, identity)

    def _schedule(self, handler: _Handler, path: str):
        # 7.x adds IN_DONT_FOLLOW unless told otherwise, which would watch a
        # symlinked /etc/postfix itself instead of the directory; 6.x follows
        # whenever an event_filter is given; older ones know neither option.
        options = {"recursive": False, "event_filter": _FILTER, "follow_symlink": True}
        for drop in ((), ("follow_symlink",), ("follow_symlink", "event_filter")):
            try:
                kwargs = {k: v for k, v in options.items() if k not in drop}
                return self._observer.schedule(handler, path, **kwargs)
            except TypeError:
                if drop == ("follow_symlink", "event_filter"):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def remove_directory(self, path: str) -> None:
        path = os.path.normpath(os.path.abspath(path))
        with self._lock:
            entry = self._watches.pop(path, None)
        if entry is None:
            return
        entry[1].active = False
        self._scans.remove(path)
        with self._scheduling:
            self._unschedule(entry[0])

    def _reap(self) -> None:
        """Unschedule lost watches; the caller holds ``_scheduling``."""
        with self._lock:
            dead, self._dead = self._dead, []
        for watch in dead:
            self._unschedule(watch)

    def _unschedule(self, watch) -> None:
        with contextlib.suppress(Exception):  # already gone with its emitter
            self._observer.unschedule(watch)

    def directories(self) -> list[str]:
        with self._lock:
            return sorted(self._watches)

    def scan_now(self) -> None:
        """Reap lost watches, then report what the scan finds; runs every scan_interval."""
        with self._scheduling:
            self._reap()
        self._scans.scan(self._lose)

    def start(self) -> None:
        if self._started or self._stopped:
            return
        self._started = True
        if not self._observer_started:
            self._observer_started = True
            self._observer.start()
        self._scanner.start()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._scanner.stop()
        if self._observer_started:
            self._observer.stop()
            self._observer.join(timeout=5)
        else:
            stop_fd = getattr(getattr(self._observer, "_inotify_fd", None), "stop", None)
            if stop_fd is not None:
                stop_fd()  # 7.x started its reader thread in the constructor

    def alive(self) -> bool:
        if not self._started or self._stopped:
            return False
        if not (self._observer.is_alive() and self._scanner.alive()):
            return False
        reader = getattr(self._observer, "_inotify_fd", None)  # 7.x: one reader thread
        if reader is not None and hasattr(reader, "is_alive") and not reader.is_alive():
            return False
        emitters = {e.watch: e for e in list(self._observer.emitters)}
        with self._lock:
            watched = list(self._watches.items())
        for path, (watch, _handler, identity) in watched:
            emitter = emitters.get(watch)
            if emitter is not None and emitter.is_alive():
                continue
            if _identity(path) != identity:
                # The deleted-root case, seen before its own event was handled.
                self._lose(path)
                continue
            return False  # an emitter died with its directory still there
        return True


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)
