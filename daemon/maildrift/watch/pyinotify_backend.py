"""The default watcher: raw inotify through pyinotify, queue overflow included.

It watches directories, never files: editors and tools replace files by
renaming a temp file over them, and a watch follows the inode, so a file
watch goes quiet after the first ``sed -i``.  Every raw kind is reported as
the kernel gives it, including ``IN_Q_OVERFLOW`` (``overflow``) and
``IN_IGNORED`` (``watch_removed``), so the daemon can rescan rather than
guess.

``IN_MODIFY`` is left out unless ``report_modify=True``: it fires on every
write(), floods the queue, and judging a file after a modify but before its
close_write reads it half written.

Two pyinotify hazards are handled here.  Its notifier decodes file names as
strict UTF-8, so one file with a non-UTF-8 name in a watched directory kills
the thread; names are decoded with ``os.fsdecode`` instead.  And pyinotify
keeps moving a watch's path when the directory is renamed, while a daemon
watching ``/etc/postfix`` means the path: on ``move_self`` the watch is
dropped and ``watch_removed`` reported, as after a delete.
"""

from __future__ import annotations

import array
import errno
import fcntl
import logging
import os
import re
import struct
import termios
import threading
import time
import warnings

with warnings.catch_warnings():
    # pyinotify imports asyncore, deprecated since 3.6 and gone in 3.12 (where
    # the pyasyncore package provides it); the warning is not ours to act on.
    warnings.simplefilter("ignore", DeprecationWarning)
    import pyinotify

from maildrift.watch.events import Reporter, Sink, WatchError, check_directory, watch_error

__all__ = ["MASK", "PyinotifyWatcher"]

MASK = (
    pyinotify.IN_CLOSE_WRITE
    | pyinotify.IN_MOVED_TO
    | pyinotify.IN_MOVED_FROM
    | pyinotify.IN_CREATE
    | pyinotify.IN_DELETE
    | pyinotify.IN_ATTRIB
    | pyinotify.IN_DELETE_SELF
    | pyinotify.IN_MOVE_SELF
    | pyinotify.IN_ONLYDIR  # a file given by mistake fails with ENOTDIR
)
# IN_Q_OVERFLOW and IN_IGNORED are always delivered; the kernel sets one kind per event.
_KINDS = (
    (pyinotify.IN_Q_OVERFLOW, "overflow"),
    (pyinotify.IN_IGNORED, "watch_removed"),
    (pyinotify.IN_DELETE_SELF, "delete_self"),
    (pyinotify.IN_MOVE_SELF, "move_self"),
    (pyinotify.IN_CLOSE_WRITE, "close_write"),
    (pyinotify.IN_MOVED_TO, "moved_to"),
    (pyinotify.IN_MOVED_FROM, "moved_from"),
    (pyinotify.IN_CREATE, "create"),
    (pyinotify.IN_DELETE, "delete"),
    (pyinotify.IN_ATTRIB, "attrib"),
    (pyinotify.IN_MODIFY, "modify"),
)
_EVENT_HEADER = struct.Struct("iIII")

# pyinotify logs expected situations (events for a watch just removed, a
# renamed watch "that cannot be trusted") to stderr through its own handler;
# this module reports all of them as events instead.
pyinotify.log.setLevel(logging.CRITICAL)


class _Notifier(pyinotify.ThreadedNotifier):
    """pyinotify's threaded notifier, safe for any file name, recording why it died."""

    failure: BaseException | None = None

    def read_events(self) -> None:
        size = array.array("i", [0])
        fcntl.ioctl(self._fd, termios.FIONREAD, size, True)
        data = os.read(self._fd, size[0]) if size[0] > 0 else b""
        offset = 0
        while offset + _EVENT_HEADER.size <= len(data):
            wd, mask, cookie, length = _EVENT_HEADER.unpack_from(data, offset)
            start = offset + _EVENT_HEADER.size
            raw = data[start : start + length].split(b"\0", 1)[0]
            self._eventq.append(pyinotify._RawEvent(wd, mask, cookie, os.fsdecode(raw)))
            offset = start + length

    def process_events(self) -> None:
        super().process_events()
        # pyinotify keeps every move for a minute to fill in src_pathname and to
        # follow renamed watched directories, and walks all of them after each
        # batch. Neither is used here (moves are reported raw, a moved watch is
        # dropped), and under a fighting writer the walk grew to milliseconds.
        system = self._sys_proc_fun
        system._mv_cookie.clear()
        system._mv.clear()

    def loop(self) -> None:
        while not self._stop_event.is_set():
            self.process_events()
            if self.check_events():
                self.read_events()

    def run(self) -> None:
        try:
            self.loop()
        except BaseException as exc:
            self.failure = exc
            raise  # threading's excepthook logs it; alive() turns false

    def close(self, started: bool) -> None:
        if started:
            self.stop()  # wakes the loop through its pipe, joins, closes the inotify fd
            return
        pyinotify.Notifier.stop(self)
        self._pollobj.unregister(self._pipe[0])
        os.close(self._pipe[0])
        os.close(self._pipe[1])


def _errno_from_text(message: str) -> int | None:
    found = re.search(r"\((E[A-Z0-9]+)\)", message)
    return getattr(errno, found.group(1), None) if found else None


def _errno_of(manager: pyinotify.WatchManager, message: str) -> int | None:
    # pyinotify keeps errno in its ctypes wrapper and only formats it into the
    # message; read it back (same thread, right after the failed call).
    try:
        code = manager._inotify_wrapper.get_errno()
    except Exception:
        code = None
    return code or _errno_from_text(message)


class PyinotifyWatcher:
    """Directory watches on one inotify instance, read by a daemon thread."""

    backend = "pyinotify"

    def __init__(self, sink: Sink, *, report_modify: bool = False) -> None:
        self._reporter = Reporter(sink)
        self._mask = MASK | (pyinotify.IN_MODIFY if report_modify else 0)
        self._lock = threading.Lock()
        self._wds: dict[str, int] = {}
        # One inode can be watched under two paths (a symlink); the kernel
        # gives both the same wd, so events go to every path that asked.
        self._paths: dict[int, list[str]] = {}
        self._started = self._stopped = False
        try:
            self._wm = pyinotify.WatchManager()
        except OSError as exc:
            # inotify_init failed: EMFILE is the per-user instance limit.
            code = getattr(exc, "errno", None) or _errno_from_text(str(exc))
            raise watch_error(code, "(inotify instance)", str(exc)) from None
        self._notifier = _Notifier(self._wm, default_proc_fun=self._on_event)
        self._notifier.name = "maildrift-pyinotify"
        self._notifier.daemon = True

    @property
    def errors(self) -> int:
        return self._reporter.errors

    @property
    def failure(self) -> BaseException | None:
        """Why the notifier thread died, if it did."""
        return self._notifier.failure

    # -- the handler: runs in the notifier thread, never raises ------------------------

    def _on_event(self, event) -> None:
        try:
            received = time.monotonic_ns()
            mask = event.mask
            kind = next((name for bit, name in _KINDS if mask & bit), None)
            if kind == "overflow":
                self._reporter.emit("overflow", "", now_ns=received)
                return
            if kind is None:
                return  # IN_UNMOUNT: IN_IGNORED follows
            with self._lock:
                directories = list(self._paths.get(event.wd, ()))
            if not directories:
                return  # a watch removed on request: its last events are stale
            if kind == "move_self":
                self._forget(event.wd)
                self._wm.rm_watch(event.wd, quiet=True)  # its IN_IGNORED is then not delivered
            elif kind == "watch_removed":
                self._forget(event.wd)
            name = event.name or ""
            cookie = getattr(event, "cookie", 0) or 0
            for directory in directories:
                path = os.path.join(directory, name) if name else directory
                self._reporter.emit(
                    kind, path, directory=directory, name=name, cookie=cookie, now_ns=received
                )
                if kind == "move_self":
                    self._reporter.emit("watch_removed", directory, now_ns=received)
        except Exception:
            self._reporter.failed()

    def _forget(self, wd: int) -> None:
        with self._lock:
            for path in self._paths.pop(wd, ()):
                self._wds.pop(path, None)

    # -- the Watcher interface --------------------------------------------------------

    def add_directory(self, path: str) -> None:
        path = os.path.normpath(os.path.abspath(path))
        check_directory(path)
        with self._lock:  # held across add_watch so the handler never sees an unknown wd
            if path in self._wds:
                return
            try:
                result = self._wm.add_watch(path, self._mask, quiet=False)
            except pyinotify.WatchManagerError as exc:
                raise watch_error(_errno_of(self._wm, str(exc)), path) from None
            wd = result.get(path, -1)
            if wd < 0:
                raise WatchError(0, f"cannot watch {path}: pyinotify returned {wd}", path)
            self._wds[path] = wd
            self._paths.setdefault(wd, []).append(path)

    def remove_directory(self, path: str) -> None:
        path = os.path.normpath(os.path.abspath(path))
        with self._lock:
            wd = self._wds.pop(path, None)
            if wd is None:
                return
            others = [p for p in self._paths.get(wd, ()) if p != path]
            if others:
                self._paths[wd] = others
                return
            self._paths.pop(wd, None)
        self._wm.rm_watch(wd, quiet=True)  # quiet: the kernel may have dropped it already

    def directories(self) -> list[str]:
        with self._lock:
            return sorted(self._wds)

    def start(self) -> None:
        if not self._started and not self._stopped:
            self._started = True
            self._notifier.start()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._notifier.close(self._started)

    def alive(self) -> bool:
        return self._started and not self._stopped and self._notifier.is_alive()
