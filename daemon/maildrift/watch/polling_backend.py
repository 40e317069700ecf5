"""A stat-polling watcher: the fallback when an inotify watch cannot be added.

It also serves as the cheap periodic scan beside watchdog, which drops queue
overflows silently.  Files a caller classes as secret are stat()ed only.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import threading

from maildrift.watch.events import make_event

__all__ = ["PollingWatcher", "snapshot_directory"]


def snapshot_directory(directory: str, is_secret=lambda path: False) -> dict | None:
    """path -> (inode, size, mtime_ns, mode, uid, gid, content hash or None); None if gone."""
    try:
        names = os.listdir(directory)
    except OSError:
        return None
    found = {}
    for name in names:
        path = os.path.join(directory, name)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        digest = None
        if stat.S_ISREG(st.st_mode) and not is_secret(path) and st.st_size <= 1 << 20:
            with contextlib.suppress(OSError), open(path, "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
        found[path] = (
            st.st_ino,
            st.st_size,
            st.st_mtime_ns,
            st.st_mode,
            st.st_uid,
            st.st_gid,
            digest,
        )
    return found


def diff_snapshots(old: dict, new: dict) -> list[tuple[str, str]]:
    """(kind, path) events that turn ``old`` into ``new``."""
    events = []
    for path in sorted(set(old) - set(new)):
        events.append(("delete", path))
    for path in sorted(set(new) - set(old)):
        events.append(("create", path))
    for path in sorted(set(old) & set(new)):
        before, after = old[path], new[path]
        if before[0] != after[0]:
            events.append(("moved_to", path))
        elif before[1:3] != after[1:3] or before[6] != after[6]:
            events.append(("close_write", path))
        elif before[3:6] != after[3:6]:
            events.append(("attrib", path))
    return events


class PollingWatcher:
    backend = "poll"

    def __init__(self, sink, interval: float = 1.0, is_secret=lambda path: False) -> None:
        self.sink = sink
        self.interval = interval
        self.is_secret = is_secret
        self._snapshots: dict[str, dict | None] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="maildrift-poll", daemon=True)
        self.errors = 0

    def _emit(self, kind: str, path: str) -> None:
        try:
            self.sink(make_event(kind, path))
        except Exception:
            self.errors += 1

    def add_directory(self, path: str) -> None:
        with self._lock:
            self._snapshots[os.path.normpath(path)] = snapshot_directory(path, self.is_secret)

    def remove_directory(self, path: str) -> None:
        with self._lock:
            self._snapshots.pop(os.path.normpath(path), None)

    def directories(self) -> list[str]:
        with self._lock:
            return [d for d, snap in self._snapshots.items() if snap is not None]

    def scan_once(self) -> None:
        with self._lock:
            directories = list(self._snapshots.items())
        for directory, old in directories:
            new = snapshot_directory(directory, self.is_secret)
            if old is not None and new is None:
                self._emit("delete_self", directory)
            elif old is None and new is not None:
                self._emit("create", directory)
            elif old is not None and new is not None:
                for kind, path in diff_snapshots(old, new):
                    self._emit(kind, path)
            with self._lock:
                if directory in self._snapshots:
                    self._snapshots[directory] = new

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(Exception):
                self.scan_once()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def alive(self) -> bool:
        return self._thread.is_alive()
