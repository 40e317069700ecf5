"""A cheap stat-and-hash snapshot of a directory, and the events between two snapshots.

The poll backend runs this every second; the watchdog backend runs it every
5 s beside watchdog, to find what watchdog cannot report (queue overflows, a
moved root).  Like an inotify watch, a snapshot covers the entries of one
directory, not the contents of its subdirectories.

Content is hashed only when stat() cannot be trusted to show a change: git's
"racy" rule.  A file whose ctime is older than the previous scan (minus a
margin for coarse timestamps) has not changed since that scan unless its
stat changed too, so its old digest is kept without reading it.  A steady
directory therefore costs one lstat per file, and a file is read only in the
few seconds after it changed.

Secrets are never read: a file the caller's predicate calls secret, or one
that is not world-readable (its owner kept it private), gets stat only.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import threading
import time
from dataclasses import dataclass
from typing import Callable

from maildrift.watch.events import Reporter, check_directory, watch_error

__all__ = [
    "MAX_HASH_SIZE",
    "RACY_MARGIN_NS",
    "DirSnapshot",
    "Entry",
    "PeriodicThread",
    "ScanSet",
    "default_is_secret",
    "diff_snapshots",
    "take_snapshot",
]

#: Larger files (big lookup tables) are compared by stat only.
MAX_HASH_SIZE = 16 * 1024 * 1024
#: Covers coarse file-system timestamps and a clock that lags the write.
RACY_MARGIN_NS = 2_000_000_000


def default_is_secret(path: str) -> bool:
    """The product's own rule for secret file names (keys, password maps)."""
    # Imported late: the engine is pure and cheap, but the watch package
    # should import without it in tools that only want the events.
    from maildrift.engine.secrets import is_secret_name

    return is_secret_name(path)


@dataclass(frozen=True)
class Entry:
    dev: int
    ino: int
    mode: int
    uid: int
    gid: int
    nlink: int
    size: int
    mtime_ns: int
    ctime_ns: int
    #: sha256 of the content; None for secrets, non-files and unread files.
    digest: bytes | None

    def same_stat(self, st: os.stat_result) -> bool:
        return (self.dev, self.ino, self.mode, self.size, self.mtime_ns, self.ctime_ns) == (
            st.st_dev,
            st.st_ino,
            st.st_mode,
            st.st_size,
            st.st_mtime_ns,
            st.st_ctime_ns,
        )


@dataclass(frozen=True)
class DirSnapshot:
    #: (st_dev, st_ino) of the directory: a new inode means the old one is gone.
    identity: tuple[int, int]
    #: Wall clock (ctime's clock) when the scan started.
    taken_ns: int
    entries: dict[str, Entry]


def _hash(path: str, st: os.stat_result) -> bytes | None:
    # O_NONBLOCK: the name may have become a FIFO since lstat; never block on it.
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            return None
        digest = hashlib.sha256()
        remaining = MAX_HASH_SIZE + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 16))
            if not chunk:
                break
            digest.update(chunk)
            remaining -= len(chunk)
        return digest.digest() if remaining > 0 else None
    except OSError:
        return None
    finally:
        os.close(fd)


def _readable(path: str, st: os.stat_result, is_secret: Callable[[str], bool]) -> bool:
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_HASH_SIZE:
        return False
    if not st.st_mode & stat.S_IROTH:
        return False
    try:
        return not is_secret(path)
    except Exception:
        return False  # a broken predicate fails closed: stat only


def take_snapshot(
    directory: str,
    previous: DirSnapshot | None = None,
    is_secret: Callable[[str], bool] = default_is_secret,
) -> DirSnapshot | None:
    """The directory's entries now, or None when it is gone or unreadable."""
    started = time.time_ns()
    try:
        dst = os.stat(directory)
        if not stat.S_ISDIR(dst.st_mode):
            return None
        names = os.listdir(directory)
    except OSError:
        return None
    identity = (dst.st_dev, dst.st_ino)
    if previous is not None and previous.identity != identity:
        previous = None
    racy_since = (previous.taken_ns if previous else started) - RACY_MARGIN_NS
    entries = {}
    for name in names:
        path = os.path.join(directory, name)
        try:
            st = os.lstat(path)
        except OSError:
            continue  # removed between listdir and lstat: the next scan agrees
        old = previous.entries.get(name) if previous else None
        digest = None
        if _readable(path, st, is_secret):
            if st.st_ctime_ns >= racy_since:
                digest = _hash(path, st)
            elif old is not None and old.same_stat(st):
                digest = old.digest
        entries[name] = Entry(
            st.st_dev,
            st.st_ino,
            st.st_mode,
            st.st_uid,
            st.st_gid,
            st.st_nlink,
            st.st_size,
            st.st_mtime_ns,
            st.st_ctime_ns,
            digest,
        )
    return DirSnapshot(identity, started, entries)


def _entry_events(old: Entry, new: Entry) -> list[str]:
    if (old.dev, old.ino) != (new.dev, new.ino) or stat.S_IFMT(old.mode) != stat.S_IFMT(new.mode):
        return ["moved_to"]  # another inode under the name: a rename-save or install
    owner_or_mode = (old.mode, old.uid, old.gid) != (new.mode, new.uid, new.gid)
    if stat.S_ISDIR(new.mode):
        # Like inotify on the parent: changes inside a subdirectory are not its events.
        return ["attrib"] if owner_or_mode else []
    if old.digest is not None and new.digest is not None:
        content = old.digest != new.digest  # a touch is attrib, a same-tick rewrite is not
    else:
        content = (old.size, old.mtime_ns) != (new.size, new.mtime_ns)
    kinds = ["close_write"] if content else []
    # Without a content change, any other inode change (times, links) is attrib.
    touched = (old.ctime_ns, old.nlink, old.mtime_ns) != (new.ctime_ns, new.nlink, new.mtime_ns)
    if owner_or_mode or (touched and not content):
        kinds.append("attrib")
    return kinds


def diff_snapshots(old: DirSnapshot, new: DirSnapshot) -> list[tuple[str, str]]:
    """(kind, name) pairs that explain how ``old`` became ``new``, deletions first."""
    events = [("delete", name) for name in sorted(old.entries.keys() - new.entries.keys())]
    events += [("create", name) for name in sorted(new.entries.keys() - old.entries.keys())]
    for name in sorted(old.entries.keys() & new.entries.keys()):
        events += [(kind, name) for kind in _entry_events(old.entries[name], new.entries[name])]
    return events


class ScanSet:
    """Snapshots of several directories; ``scan()`` reports what changed since the last."""

    def __init__(self, reporter: Reporter, is_secret: Callable[[str], bool]) -> None:
        self._reporter = reporter
        self._is_secret = is_secret
        self._lock = threading.Lock()
        self._snapshots: dict[str, DirSnapshot] = {}

    def add(self, path: str) -> None:
        check_directory(path)
        snapshot = take_snapshot(path, None, self._is_secret)
        if snapshot is None:
            raise watch_error(errno.ENOENT, path)  # vanished since the check
        with self._lock:
            self._snapshots.setdefault(path, snapshot)

    def remove(self, path: str) -> bool:
        with self._lock:
            return self._snapshots.pop(path, None) is not None

    def paths(self) -> list[str]:
        with self._lock:
            return sorted(self._snapshots)

    def scan(self, lost: Callable[[str], None]) -> None:
        """Emit the differences; call ``lost(path)`` for a directory that went away."""
        with self._lock:
            current = list(self._snapshots.items())
        for path, old in current:
            new = take_snapshot(path, old, self._is_secret)
            if new is None or new.identity != old.identity:
                # Gone, or replaced by another directory: as with inotify, the
                # watch followed the old inode and a new one is not watched.
                lost(path)
                continue
            for kind, name in diff_snapshots(old, new):
                self._reporter.emit(kind, os.path.join(path, name), directory=path)
            with self._lock:
                if self._snapshots.get(path) is old:  # not removed or re-added meanwhile
                    self._snapshots[path] = new


class PeriodicThread:
    """Calls ``work`` every ``interval`` seconds in a daemon thread until stopped.

    An exception in ``work`` is counted and the loop goes on: one bad scan
    must not end watching.  ``alive()`` is false only if the thread itself ended.
    """

    def __init__(self, name: str, interval: float, work: Callable[[], None]) -> None:
        self.interval = interval
        self.errors = 0
        self._work = work
        self._stopping = threading.Event()
        self._started = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self._work()
            except Exception:
                self.errors += 1  # only this thread writes it

    def start(self) -> None:
        if not self._started and not self._stopping.is_set():
            self._started = True
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=max(5.0, self.interval * 2))

    def alive(self) -> bool:
        return self._thread.is_alive()
