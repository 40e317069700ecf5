"""Reading configuration files from disk: the I/O edge the pure parsers stand behind.

``TreeReader`` rebases absolute paths under ``--root``, substitutes candidate
files, and turns every way a file can be unreadable into a ConfigError that
names it.
"""

from __future__ import annotations

import errno
import fnmatch
import glob
import os
import stat
from dataclasses import dataclass

from maildrift.errors import ConfigError

__all__ = ["MAX_CONFIG_SIZE", "FileData", "TreeReader"]

#: No Postfix or Dovecot configuration file is anywhere near this size.
MAX_CONFIG_SIZE = 16 * 1024 * 1024


@dataclass(frozen=True)
class FileData:
    """One file's bytes and metadata, with the path as configured and as read."""

    path: str
    read_path: str
    data: bytes
    mode: int
    uid: int
    gid: int
    mtime_ns: int


class TreeReader:
    """Reads files named by a configuration, optionally under a root directory."""

    def __init__(
        self,
        root: str | None = None,
        *,
        max_size: int = MAX_CONFIG_SIZE,
        candidates: dict[str, str] | None = None,
        overlay: dict[str, bytes] | None = None,
    ):
        self.root = os.path.abspath(root) if root else None
        self.max_size = max_size
        # Configured path -> file to read instead (``check --candidate``).
        self.candidates = {os.path.normpath(k): v for k, v in (candidates or {}).items()}
        # Configured path -> bytes to read instead, never written anywhere
        # (enforce mode's candidates). Metadata stays the live file's.
        self.overlay = {os.path.normpath(k): v for k, v in (overlay or {}).items()}
        # Every evaluation maps the same few hundred paths again.
        self._live: dict[str, str] = {}

    def host_path(self, path: str) -> str:
        """Where a configured absolute path lives on this machine.

        >>> TreeReader("/srv/tree").host_path("/etc/postfix/main.cf")
        '/srv/tree/etc/postfix/main.cf'
        >>> TreeReader().host_path("/etc/postfix/main.cf")
        '/etc/postfix/main.cf'
        """
        path = os.path.normpath(path)
        if path in self.candidates:
            return self.candidates[path]
        return self.live_path(path)

    def live_path(self, path: str) -> str:
        """:meth:`host_path` ignoring candidates: where the live file is."""
        found = self._live.get(path)
        if found is None:
            found = os.path.normpath(path)
            if self.root and os.path.isabs(found):
                found = os.path.join(self.root, found.lstrip("/"))
            if len(self._live) > 4096:
                self._live.clear()  # bounded: paths come from configuration text
            self._live[path] = found
        return found

    def config_path(self, host_path: str) -> str:
        """The inverse of :meth:`host_path` for paths under the root."""
        if self.root and (host_path == self.root or host_path.startswith(self.root + "/")):
            return "/" + host_path[len(self.root) :].lstrip("/")
        return host_path

    def read(self, path: str) -> FileData:
        """Read one regular file; raise ConfigError naming it if that is impossible."""
        if self.overlay and os.path.normpath(path) in self.overlay:
            return self._read_overlay(path)
        read_path = self.host_path(path)
        try:
            st = os.stat(read_path)
        except OSError as exc:
            raise ConfigError(_describe(exc), path) from None
        if not stat.S_ISREG(st.st_mode):
            kind = "directory" if stat.S_ISDIR(st.st_mode) else "FIFO, socket or device"
            raise ConfigError(f"not a regular file ({kind})", path)
        if st.st_size > self.max_size:
            raise ConfigError(f"file too large ({st.st_size} bytes, limit {self.max_size})", path)
        try:
            # O_NONBLOCK: a FIFO swapped in after the stat must not hang the reader.
            fd = os.open(read_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise ConfigError(_describe(exc), path) from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise ConfigError("not a regular file", path)
            chunks = []
            total = 0
            while True:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    break
                total += len(chunk)
                if total > self.max_size:
                    raise ConfigError(f"file too large (limit {self.max_size} bytes)", path)
                chunks.append(chunk)
        except OSError as exc:
            raise ConfigError(_describe(exc), path) from None
        finally:
            os.close(fd)
        return FileData(
            path=path,
            read_path=read_path,
            data=b"".join(chunks),
            mode=stat.S_IMODE(st.st_mode),
            uid=st.st_uid,
            gid=st.st_gid,
            mtime_ns=st.st_mtime_ns,
        )

    def _read_overlay(self, path: str) -> FileData:
        data = self.overlay[os.path.normpath(path)]
        if len(data) > self.max_size:
            raise ConfigError(f"file too large ({len(data)} bytes, limit {self.max_size})", path)
        st = self.stat(path)
        return FileData(
            path=path,
            read_path=f"{self.live_path(path)} (in memory)",
            data=data,
            mode=stat.S_IMODE(st.st_mode),
            uid=st.st_uid,
            gid=st.st_gid,
            mtime_ns=st.st_mtime_ns or 0,
        )

    def stat(self, path: str) -> os.stat_result | None:
        """``os.stat`` of a configured path, or None when it does not exist."""
        try:
            return os.stat(self.host_path(path))
        except OSError:
            pass
        data = self.overlay.get(os.path.normpath(path)) if self.overlay else None
        if data is None:
            return None
        # A new file only in memory: what a fresh 0600 file of the daemon's would be.
        return os.stat_result(
            (stat.S_IFREG | 0o600, 0, 0, 1, os.getuid(), os.getgid(), len(data), 0, 0, 0)
        )

    def exists(self, path: str) -> bool:
        return self.stat(path) is not None

    def lexists(self, path: str) -> bool:
        """Whether anything is there, a dangling symlink included."""
        if self.overlay and os.path.normpath(path) in self.overlay:
            return True
        return os.path.lexists(self.host_path(path))

    def glob(self, pattern: str) -> list[str]:
        """Configured paths matching an absolute glob, sorted in C-locale order."""
        host = self.live_path(pattern)
        matches = {self.config_path(p) for p in glob.glob(host)}
        # A candidate for a file that does not exist yet (a new conf.d file) matches too.
        matches |= {
            p
            for p in (*self.candidates, *self.overlay)
            if fnmatch.fnmatchcase(p, os.path.normpath(pattern))
        }
        return sorted(matches, key=os.fsencode)

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(self.host_path(path)), key=os.fsencode)
        except OSError:
            return []


def _describe(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if exc.errno == errno.ENOENT:
        return "no such file"
    if exc.errno == errno.EACCES:
        return "permission denied"
    return exc.strerror or str(exc)
