"""Private state files: 0700 directories and 0600 files, replaced atomically.

The quarantine and the last-known-good store keep copies of configuration
files that other local users must not read, and must survive a crash at any
moment: a file is either its old or its new version, never half written.

>>> import tempfile
>>> base = tempfile.mkdtemp()
>>> blobs = ensure_private_dir(os.path.join(base, "state", "lkg", "blobs"))
>>> [oct(os.stat(os.path.join(base, p)).st_mode & 0o777) for p in ("state", "state/lkg")]
['0o700', '0o700']
>>> write_private(os.path.join(blobs, "f"), b"x")
>>> oct(os.stat(os.path.join(blobs, "f")).st_mode & 0o777)
'0o600'
>>> import shutil; shutil.rmtree(base)
"""

from __future__ import annotations

import contextlib
import os
import secrets

__all__ = ["ensure_private_dir", "fsync_dir", "write_private"]


def ensure_private_dir(path: str) -> str:
    """Create ``path`` and any missing parent mode 0700; tighten ``path`` if it is looser.

    Existing parents are left as they are: ``/var/lib`` is the system's.
    """
    path = os.path.abspath(path)
    missing = []
    probe = path
    while not os.path.isdir(probe):
        missing.append(probe)
        probe = os.path.dirname(probe)
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, 0o700)
    if os.stat(path).st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def fsync_dir(path: str) -> None:
    """Make a rename or unlink in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private(path: str, data: bytes, *, sync_dir: bool = True) -> None:
    """Replace ``path`` with ``data``, mode 0600: temp file, fsync, rename, fsync of the directory.

    ``sync_dir=False`` leaves the directory's fsync to the caller's next write
    in the same directory (one fsync then covers both renames).

    The temp name is random and opened with O_EXCL|O_NOFOLLOW, so nothing
    planted in the directory can redirect the write.  On failure the temp file
    is removed and the old ``path`` is untouched; the OSError propagates.
    """
    directory, name = os.path.split(os.path.abspath(path))
    temp = os.path.join(directory, f".{name}.tmp-{secrets.token_hex(6)}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temp, flags, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    if sync_dir:
        fsync_dir(directory)
