"""Compare-and-swap replacement of a configuration file, without losing anyone's write.

:func:`swap_in` writes the new bytes to a temp file in the target's
directory (same owner, group, mode and extended attributes, SELinux label
included), then swaps it with the target in one ``renameat2(RENAME_EXCHANGE)``.
What the swap displaced is hashed: if it is not the version the caller
judged, an admin wrote in between, and the two are exchanged back so the
admin's version is at the path again.  A target that is a symlink is never
written.  Every path operation is relative to one directory descriptor and
none follows a symlink at the last component.

Known limit: a writer that still holds the displaced file open and writes
into it after the hash was taken writes into an unlinked file; that is the
same for every editor that saves by rename.

>>> sha256_bytes(b"")[:16]
'e3b0c44298fc1c14'
>>> is_temp_name(".main.cf.maildrift-0123456789abcdef"), is_temp_name("main.cf")
(True, False)
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import os
import platform
import secrets
import stat
import time
from dataclasses import dataclass

from maildrift.errors import MaildriftError

__all__ = [
    "RENAME_EXCHANGE",
    "RENAME_NOREPLACE",
    "TEMP_MARKER",
    "FileMeta",
    "MetaResult",
    "Renamer",
    "SafeWriteError",
    "SwapResult",
    "is_temp_name",
    "restore_metadata",
    "sha256_bytes",
    "swap_in",
]

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
_AT_FDCWD = -100
#: renameat2's syscall number where glibc < 2.28 lacks the wrapper.
_SYS_RENAMEAT2 = {"x86_64": 316, "aarch64": 276}
#: Temp files are named ``.<basename>.maildrift-<16 hex>``; watchers should ignore them.
TEMP_MARKER = ".maildrift-"
_SELINUX = "security.selinux"
#: Attributes a file system or the caller's privileges may refuse without harm.
_TOLERATED = (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM, errno.EACCES)
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class SafeWriteError(MaildriftError):
    """renameat2 cannot be called on this system."""


@dataclass(frozen=True)
class FileMeta:
    """Permission bits and ownership a file is (to be) written with."""

    mode: int
    uid: int
    gid: int

    @classmethod
    def from_stat(cls, st: os.stat_result) -> FileMeta:
        return cls(stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)


@dataclass(frozen=True)
class SwapResult:
    """What :func:`swap_in` did.

    ``outcome``: ``swapped`` (the new bytes are at the path), ``conflict``
    (the file was not the judged version; it is at the path, unchanged, and
    ``displaced_sha256`` is its hash, None if it was missing or not a regular
    file), ``symlink`` (the path is a symlink; nothing written) or ``failed``
    (``error`` says why; the target is untouched).  ``renamed_at`` and
    ``swapped_back_at`` are ``time.monotonic()`` when those renames returned.
    ``leftover`` names a file kept rather than deleted because it holds an
    admin's version superseded during the swap (see :func:`swap_in`).
    """

    outcome: str
    path: str
    new_sha256: str
    displaced_sha256: str | None = None
    error: str = ""
    renamed_at: float | None = None
    swapped_back_at: float | None = None
    warnings: tuple[str, ...] = ()
    leftover: str | None = None


@dataclass(frozen=True)
class MetaResult:
    """What :func:`restore_metadata` did: ``restored``, ``symlink`` or ``failed``."""

    outcome: str
    path: str
    error: str = ""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_temp_name(name: str) -> bool:
    """Whether a file name is one of :func:`swap_in`'s temp files."""
    base = os.path.basename(name)
    return base.startswith(".") and TEMP_MARKER in base


class Renamer:
    """``renameat2`` through ctypes: glibc's wrapper, else the raw syscall.

    ``libc`` and ``machine`` are for tests; by default the running process's
    C library and ``platform.machine()``.
    """

    def __init__(self, libc=None, machine: str | None = None):
        libc = libc if libc is not None else ctypes.CDLL(None, use_errno=True)
        try:
            function = libc.renameat2
        except AttributeError:
            number = _SYS_RENAMEAT2.get(machine or platform.machine())
            if number is None or not hasattr(libc, "syscall"):
                raise SafeWriteError(
                    "renameat2 is unavailable: the C library has no wrapper (glibc >= 2.28 has)"
                    f" and the syscall number for {machine or platform.machine()} is unknown"
                ) from None
            syscall = libc.syscall
            self._call = lambda *args: syscall(ctypes.c_long(number), *args)
        else:
            function.argtypes = [
                ctypes.c_int,
                ctypes.c_char_p,
                ctypes.c_int,
                ctypes.c_char_p,
                ctypes.c_uint,
            ]
            function.restype = ctypes.c_int
            self._call = function

    def rename(self, dir_fd: int, old: str, new: str, flags: int) -> None:
        """renameat2(dir_fd, old, dir_fd, new, flags); OSError with errno on failure."""
        args = (
            ctypes.c_int(dir_fd),
            os.fsencode(old),
            ctypes.c_int(dir_fd),
            os.fsencode(new),
            ctypes.c_uint(flags),
        )
        ctypes.set_errno(0)
        if self._call(*args) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), old, None, new)


def _hash_fd(fd: int) -> str:
    digest = hashlib.sha256()
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return digest.hexdigest()
        digest.update(chunk)


def _hash_entry(dir_fd: int, name: str) -> str | None:
    """SHA-256 of the regular file ``name``; None if missing, a symlink or not a regular file."""
    try:
        fd = os.open(name, _READ, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        return _hash_fd(fd) if stat.S_ISREG(os.fstat(fd).st_mode) else None
    finally:
        os.close(fd)


def _copy_xattrs(source: int, target: int) -> list[str]:
    """Copy every extended attribute; return warnings for the ones refused harmlessly.

    A refused SELinux label is harmless only when the new file's default label
    is the same: Postfix may not read a file of another type, so a different
    label raises OSError and the swap does not happen.
    """
    warnings = []
    for name in os.listxattr(source):
        value = os.getxattr(source, name)
        try:
            os.setxattr(target, name, value)
        except OSError as exc:
            if name == _SELINUX:
                try:
                    got = os.getxattr(target, name)
                except OSError:
                    got = b""
                if got.rstrip(b"\0") != value.rstrip(b"\0"):
                    raise OSError(
                        exc.errno, f"cannot copy the SELinux label: {exc.strerror}"
                    ) from exc
            elif exc.errno not in _TOLERATED:
                raise
            warnings.append(f"{name}: not copied: {exc.strerror}")
    return warnings


def _make_temp(dir_fd: int, base: str) -> tuple[str, int]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(8):
        name = f".{base}{TEMP_MARKER}{secrets.token_hex(8)}"
        try:
            return name, os.open(name, flags, 0o600, dir_fd=dir_fd)
        except FileExistsError:
            continue
    raise OSError(errno.EEXIST, "no free temp name", base)


def _write_temp(dir_fd, base, data, meta, source) -> tuple[str, int, list[str]]:
    """Temp file with ``data``, ``meta``, ``source``'s xattrs, fsynced: (name, inode, warnings)."""
    name, fd = _make_temp(dir_fd, base)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fchown(fd, meta.uid, meta.gid)
        warnings = _copy_xattrs(source, fd) if source is not None else []
        # After chown (which clears set-id bits) and after any ACL, which rewrites the mask.
        os.fchmod(fd, stat.S_IMODE(meta.mode))
        os.fsync(fd)
        return name, os.fstat(fd).st_ino, warnings
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=dir_fd)
        raise
    finally:
        os.close(fd)


def _open_target(dir_fd: int, base: str):
    """(fd or None, stat or None, early outcome or None) for the current target."""
    try:
        st = os.stat(base, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None, None, None
    if stat.S_ISLNK(st.st_mode):
        return None, st, "symlink"
    if not stat.S_ISREG(st.st_mode):
        return None, st, "not a regular file"
    try:
        fd = os.open(base, _READ, dir_fd=dir_fd)
    except OSError as exc:
        return None, st, "symlink" if exc.errno == errno.ELOOP else exc.strerror
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        return None, st, "not a regular file"
    return fd, st, None


def swap_in(
    path: str,
    data: bytes,
    expected_sha256: str | None,
    *,
    meta: FileMeta | None = None,
    renamer: Renamer | None = None,
) -> SwapResult:
    """Replace ``path`` with ``data`` if it still is the version whose hash was judged.

    ``expected_sha256`` None means the caller judged the file missing: the new
    file is installed with RENAME_NOREPLACE and anything that appeared since is
    a conflict.  ``meta`` defaults to the current file's; a missing target needs
    it (ValueError otherwise).  If an admin writes again in the microseconds
    between the exchange and the exchange back, that newest write is put at the
    path and the version it superseded is kept at the temp name, reported as
    ``leftover``, rather than deleted.
    """
    path = os.path.abspath(path)
    directory, base = os.path.split(path)
    new_sha = sha256_bytes(data)
    renamer = renamer or Renamer()
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        return SwapResult("failed", path, new_sha, error=f"{directory}: {exc.strerror}")
    try:
        fd, st, problem = _open_target(dir_fd, base)
        if problem == "symlink":
            return SwapResult("symlink", path, new_sha, error="a symlink; not rewritten")
        if problem:
            return SwapResult("failed", path, new_sha, error=problem)
        try:
            current = _hash_fd(fd) if fd is not None else None
            if current != expected_sha256:
                # Checked again after the exchange; this spares the common case the window.
                return SwapResult("conflict", path, new_sha, displaced_sha256=current)
            if meta is None and st is None:
                raise ValueError(f"{path} is missing: swap_in needs meta to create it")
            meta = meta or FileMeta.from_stat(st)
            warnings = []
            if st is not None and st.st_nlink > 1:
                warnings.append(f"had {st.st_nlink} links; the others keep the old content")
            try:
                temp, inode, copied = _write_temp(dir_fd, base, data, meta, fd)
            except OSError as exc:
                error = f"temp file: {exc.strerror or exc}"
                return SwapResult("failed", path, new_sha, error=error, warnings=tuple(warnings))
            warnings += copied
        finally:
            if fd is not None:
                os.close(fd)
        swap = _Exchange(renamer, dir_fd, path, temp, inode, new_sha, tuple(warnings))
        return swap.run(expected_sha256)
    finally:
        os.close(dir_fd)


class _Exchange:
    """The renames of one :func:`swap_in`, once the temp file is written."""

    def __init__(self, renamer, dir_fd, path, temp, inode, new_sha, warnings):
        self.renamer, self.dir_fd, self.path = renamer, dir_fd, path
        self.base = os.path.basename(path)
        self.temp, self.inode, self.new_sha, self.warnings = temp, inode, new_sha, warnings

    def result(self, outcome: str, **fields) -> SwapResult:
        return SwapResult(outcome, self.path, self.new_sha, warnings=self.warnings, **fields)

    def run(self, expected: str | None) -> SwapResult:
        flags = RENAME_NOREPLACE if expected is None else RENAME_EXCHANGE
        try:
            self.renamer.rename(self.dir_fd, self.temp, self.base, flags)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(self.temp, dir_fd=self.dir_fd)
            if exc.errno in (errno.EEXIST, errno.ENOENT):
                # Created or deleted since the hash was compared.
                return self.result("conflict", displaced_sha256=_hash_entry(self.dir_fd, self.base))
            if exc.errno in (errno.EINVAL, errno.ENOSYS):
                message = "renameat2 with this flag is not supported by this kernel or file system"
                return self.result("failed", error=message)
            return self.result("failed", error=f"renameat2: {exc.strerror}")
        renamed_at = time.monotonic()
        displaced = None if expected is None else _hash_entry(self.dir_fd, self.temp)
        if displaced == expected:
            if expected is not None:
                os.unlink(self.temp, dir_fd=self.dir_fd)
            os.fsync(self.dir_fd)
            return self.result("swapped", renamed_at=renamed_at)
        return self.swap_back(displaced, renamed_at)

    def swap_back(self, displaced: str | None, renamed_at: float) -> SwapResult:
        """An admin wrote since the judging: put theirs back; delete ours only if pristine."""
        fields = {"displaced_sha256": displaced, "renamed_at": renamed_at}
        leftover = os.path.join(os.path.dirname(self.path), self.temp)
        try:
            self.renamer.rename(self.dir_fd, self.temp, self.base, RENAME_EXCHANGE)
        except OSError as exc:
            message = (
                f"swapping the newer version back failed ({exc.strerror}); it is at {leftover}"
            )
            return self.result("failed", error=message, leftover=leftover, **fields)
        fields["swapped_back_at"] = time.monotonic()
        try:
            st = os.stat(self.temp, dir_fd=self.dir_fd, follow_symlinks=False)
            ours = st.st_ino == self.inode
        except OSError:
            ours = False
        if ours and _hash_entry(self.dir_fd, self.temp) == self.new_sha:
            os.unlink(self.temp, dir_fd=self.dir_fd)
            os.fsync(self.dir_fd)
            return self.result("conflict", **fields)
        # Someone wrote to the path during the window.  Theirs is the newest write, so it goes
        # to the path; the version it superseded stays at the temp name, since nothing that
        # is not provably ours is deleted.
        with contextlib.suppress(OSError):
            self.renamer.rename(self.dir_fd, self.temp, self.base, RENAME_EXCHANGE)
        os.fsync(self.dir_fd)
        message = f"the file changed again during the swap; an older version is kept at {leftover}"
        return self.result("conflict", error=message, leftover=leftover, **fields)


def restore_metadata(path: str, mode: int, uid: int, gid: int) -> MetaResult:
    """Put back owner, group and permission bits, never through a symlink.

    Works on regular files and directories, through a descriptor opened with
    O_NOFOLLOW, so a symlink swapped in at ``path`` is refused, not followed.
    """
    path = os.path.abspath(path)
    try:
        fd = os.open(path, _READ)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return MetaResult("symlink", path, "the file is a symlink; not changed")
        return MetaResult("failed", path, exc.strerror or str(exc))
    try:
        st = os.fstat(fd)
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            return MetaResult("failed", path, "not a regular file or directory")
        if (st.st_uid, st.st_gid) != (uid, gid):
            os.fchown(fd, uid, gid)
        # Always, since a chown may have cleared set-id bits.
        os.fchmod(fd, stat.S_IMODE(mode))
        return MetaResult("restored", path)
    except OSError as exc:
        return MetaResult("failed", path, exc.strerror or str(exc))
    finally:
        os.close(fd)
