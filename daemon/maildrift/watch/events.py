"""What every watcher backend reports, and the interface every backend offers.

A watcher is an I/O edge: it turns file-system notifications into
``WatchEvent`` values and hands them to a sink.  It never reads configuration
and never judges anything; deciding what an event means is the daemon's job.

Event kinds keep raw inotify semantics, so a backend that cannot see a kind
says so in ``maildrift.watch.matrix`` instead of inventing a near miss:

* ``close_write``, ``moved_to``, ``moved_from``, ``create``, ``delete``,
  ``attrib``, ``modify``: something happened to ``name`` inside ``directory``;
* ``delete_self``, ``move_self``: the watched directory itself went away
  (``path == directory``, ``name == ""``);
* ``watch_removed``: the backend no longer watches ``directory`` and has
  dropped it from ``directories()``; the caller decides whether to re-add;
* ``overflow``: events were lost; ``path``, ``directory`` and ``name`` are
  empty because the loss is not tied to one directory.

>>> event = make_event("moved_to", "/etc/postfix/main.cf", cookie=7, now_ns=1)
>>> (event.directory, event.name, event.cookie)
('/etc/postfix', 'main.cf', 7)
>>> make_event("delete_self", "/etc/postfix", now_ns=1).name
''
"""

from __future__ import annotations

import errno
import os
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol, runtime_checkable

__all__ = [
    "KINDS",
    "SELF_KINDS",
    "Reporter",
    "Sink",
    "WatchError",
    "WatchEvent",
    "WatchLimitError",
    "WatchPathError",
    "Watcher",
    "check_directory",
    "make_event",
    "watch_error",
]

KINDS = frozenset(
    {
        "close_write",
        "moved_to",
        "moved_from",
        "create",
        "delete",
        "attrib",
        "modify",
        "delete_self",
        "move_self",
        "overflow",
        "watch_removed",
    }
)
#: Kinds about the watched directory itself rather than an entry in it.
SELF_KINDS = frozenset({"delete_self", "move_self", "watch_removed"})


@dataclass(frozen=True)
class WatchEvent:
    """One notification, as received; ``received_monotonic_ns`` is CLOCK_MONOTONIC.

    The receive time is taken by the backend, so latency measured from it
    excludes the daemon's queue but includes any delay inside the backend
    (watchdog's 0.5 s move pairing, a poll interval).
    """

    kind: str
    path: str
    directory: str
    name: str
    cookie: int
    received_monotonic_ns: int

    def __post_init__(self) -> None:
        # A typo in a backend must fail its own tests, not reach the daemon.
        if self.kind not in KINDS:
            raise ValueError(f"unknown watch event kind {self.kind!r}")


Sink = Callable[[WatchEvent], None]


def make_event(
    kind: str,
    path: str,
    *,
    directory: str | None = None,
    name: str | None = None,
    cookie: int = 0,
    now_ns: int | None = None,
) -> WatchEvent:
    """An event for ``path``; ``directory`` and ``name`` default to its parent and basename.

    An event about the watched directory itself (its own ``attrib``) passes
    ``directory=path, name=""``.
    """
    received = time.monotonic_ns() if now_ns is None else now_ns
    if kind == "overflow":
        return WatchEvent(kind, "", "", "", 0, received)
    if kind in SELF_KINDS:
        return WatchEvent(kind, path, path, "", cookie, received)
    if directory is None:
        directory = os.path.dirname(path)
    if name is None:
        name = os.path.basename(path)
    return WatchEvent(kind, path, directory, name, cookie, received)


class Reporter:
    """Builds events and calls the sink; never raises.

    Backends call this from library threads (pyinotify's notifier, watchdog's
    observer, our scan threads).  An exception there would kill the thread and
    silently end watching, so every failure -- a bad sink, a bug in building
    the event -- is counted in ``errors`` and swallowed.
    """

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._lock = threading.Lock()
        self.errors = 0
        self.delivered = 0

    def emit(self, kind: str, path: str, **fields) -> None:
        try:
            self._sink(make_event(kind, path, **fields))
        except Exception:
            self._count("errors")
        else:
            self._count("delivered")

    def failed(self) -> None:
        """Count a failure that happened before an event could be built."""
        self._count("errors")

    def _count(self, name: str) -> None:
        # += on an attribute is not atomic across threads.
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)


class WatchError(OSError):
    """A directory could not be watched; ``errno`` says why, ``filename`` which."""


class WatchPathError(WatchError):
    """The directory is missing, not a directory, or unreadable: no backend can help."""


class WatchLimitError(WatchError):
    """The inotify watch or instance limit is reached: only polling can help.

    Raise ``fs.inotify.max_user_watches`` (or ``max_user_instances``) to get
    inotify back.
    """


_PATH_ERRNOS = {errno.ENOENT, errno.ENOTDIR, errno.EACCES, errno.EPERM, errno.ELOOP}
_LIMIT_ERRNOS = {errno.ENOSPC, errno.EMFILE, errno.ENFILE}


def watch_error(code: int | None, path: str, detail: str = "") -> WatchError:
    """The WatchError subclass a caller can act on, with a message naming the fix.

    >>> type(watch_error(errno.ENOSPC, "/etc/postfix")).__name__
    'WatchLimitError'
    >>> str(watch_error(errno.ENOENT, "/nope"))
    "[Errno 2] cannot watch /nope: No such file or directory: '/nope'"
    """
    code = code or errno.EIO
    reason = detail or os.strerror(code)
    if code in _LIMIT_ERRNOS:
        limit = "max_user_watches" if code == errno.ENOSPC else "max_user_instances"
        reason = f"inotify limit reached (raise fs.inotify.{limit}): {reason}"
        return WatchLimitError(code, f"cannot watch {path}: {reason}", path)
    if code in _PATH_ERRNOS:
        return WatchPathError(code, f"cannot watch {path}: {reason}", path)
    return WatchError(code, f"cannot watch {path}: {reason}", path)


def check_directory(path: str) -> tuple[int, int]:
    """(st_dev, st_ino) of a directory we are about to watch, or WatchPathError.

    Checked up front so every backend fails the same clear way: watchdog 6
    silently ignores EACCES from inotify_add_watch, and polling would happily
    "watch" a missing path.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        raise watch_error(exc.errno, path) from None
    if not os.path.isdir(path):
        raise watch_error(errno.ENOTDIR, path)
    if not os.access(path, os.R_OK | os.X_OK):
        raise watch_error(errno.EACCES, path)
    return (st.st_dev, st.st_ino)


@runtime_checkable
class Watcher(Protocol):
    """What the daemon relies on; every backend and the fallback chain offer it.

    ``add_directory`` raises ``WatchPathError`` or ``WatchLimitError`` (both
    ``OSError``) when it cannot watch; ``remove_directory`` of an unknown
    directory does nothing.  ``directories()`` lists what is watched right
    now: a directory the file system took away is dropped, after a
    ``watch_removed`` event.  ``alive()`` is false once the backend can no
    longer deliver events (its thread died), so the caller rebuilds it.
    """

    backend: str

    def add_directory(self, path: str) -> None: ...

    def remove_directory(self, path: str) -> None: ...

    def directories(self) -> list[str]: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def alive(self) -> bool: ...
