"""safewrite on the real kernel: renameat2 exchanges, xattrs, symlinks, conflicts."""

from __future__ import annotations

import errno
import os
import stat
import time
from types import SimpleNamespace

import pytest

from maildrift.enforce import safewrite
from maildrift.enforce.safewrite import (
    RENAME_EXCHANGE,
    FileMeta,
    Renamer,
    SafeWriteError,
    is_temp_name,
    restore_metadata,
    sha256_bytes,
    swap_in,
)

OLD, NEW, ADMIN = b"smtpd_tls_auth_only = yes\n", b"# reverted\n", b"# the admin's edit\n"


def write(path, data: bytes, mode: int = 0o644, owner: tuple[int, int] = (1234, 2345)) -> str:
    with open(path, "wb") as handle:
        handle.write(data)
    os.chown(path, *owner)
    os.chmod(path, mode)
    return str(path)


def read(path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def admin_writes(path, data: bytes) -> None:
    """An editor saving by rename: a new inode at the path."""
    temp = f"{path}.swp"
    with open(temp, "wb") as handle:
        handle.write(data)
    os.rename(temp, path)


class HookedRenamer(Renamer):
    """The real renameat2, with something happening just before chosen calls."""

    def __init__(self, hooks: dict):
        super().__init__()
        self.hooks, self.calls = hooks, 0

    def rename(self, dir_fd, old, new, flags):
        hook = self.hooks.get(self.calls)
        self.calls += 1
        if hook:
            hook()
        super().rename(dir_fd, old, new, flags)


@pytest.fixture
def conf(tmp_path):
    """main.cf, owned 1234:2345, mode 0640, in its own directory."""
    directory = tmp_path / "postfix"
    directory.mkdir()
    return write(directory / "main.cf", OLD, 0o640)


def test_exchange_replaces_content_keeps_meta(conf):
    """A judged file is swapped: new bytes and inode, same mode and owner, no temp left."""
    before = os.stat(conf)
    started = time.monotonic()
    result = swap_in(conf, NEW, sha256_bytes(OLD))
    after = os.stat(conf)
    assert result.outcome == "swapped", result
    assert read(conf) == NEW
    assert result.new_sha256 == sha256_bytes(NEW)
    assert after.st_ino != before.st_ino
    assert stat.S_IMODE(after.st_mode) == 0o640
    assert (after.st_uid, after.st_gid) == (1234, 2345)
    assert started <= result.renamed_at <= time.monotonic()
    assert os.listdir(os.path.dirname(conf)) == ["main.cf"]


def test_meta_overrides_current(conf):
    """An explicit meta is what the new file gets (restoring last-known-good metadata)."""
    result = swap_in(conf, NEW, sha256_bytes(OLD), meta=FileMeta(0o600, 0, 0))
    st = os.stat(conf)
    assert result.outcome == "swapped"
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o600, 0, 0)


def test_xattrs_are_copied(conf):
    """user.* attributes and the SELinux label travel to the new file."""
    try:
        os.setxattr(conf, "user.maildrift", b"kept")
        os.setxattr(conf, "security.selinux", b"system_u:object_r:postfix_etc_t:s0\0")
    except OSError as exc:
        pytest.skip(f"the file system under {conf} refuses these xattrs: {exc}")
    result = swap_in(conf, NEW, sha256_bytes(OLD))
    assert result.outcome == "swapped"
    assert result.warnings == ()
    assert os.getxattr(conf, "user.maildrift") == b"kept"
    assert os.getxattr(conf, "security.selinux").rstrip(b"\0") == (
        b"system_u:object_r:postfix_etc_t:s0"
    )


def test_symlink_at_target_is_refused(tmp_path):
    """A config file that is a symlink is reported; neither it nor its target changes."""
    victim = write(tmp_path / "shadow", b"root:x:0:\n", 0o600)
    link = tmp_path / "main.cf"
    os.symlink(victim, link)
    result = swap_in(str(link), NEW, sha256_bytes(b"root:x:0:\n"))
    assert result.outcome == "symlink"
    assert os.path.islink(link) and read(victim) == b"root:x:0:\n"
    assert sorted(os.listdir(tmp_path)) == ["main.cf", "shadow"]


def test_planted_temp_symlink_cannot_redirect(conf, tmp_path, monkeypatch):
    """A symlink planted at the temp name is never written through; another name is used."""
    victim = write(tmp_path / "victim", b"precious\n")
    names = iter(["0" * 16, "1" * 16])
    monkeypatch.setattr(safewrite, "secrets", SimpleNamespace(token_hex=lambda n: next(names)))
    planted = os.path.join(os.path.dirname(conf), ".main.cf.maildrift-" + "0" * 16)
    os.symlink(victim, planted)
    result = swap_in(conf, NEW, sha256_bytes(OLD))
    assert result.outcome == "swapped"
    assert read(conf) == NEW and read(victim) == b"precious\n"
    assert os.readlink(planted) == victim


def test_no_free_temp_name_fails_untouched(conf, tmp_path, monkeypatch):
    """When every temp name is taken the write fails and the target is untouched."""
    victim = write(tmp_path / "victim", b"precious\n")
    monkeypatch.setattr(safewrite, "secrets", SimpleNamespace(token_hex=lambda n: "0" * 16))
    os.symlink(victim, os.path.join(os.path.dirname(conf), ".main.cf.maildrift-" + "0" * 16))
    result = swap_in(conf, NEW, sha256_bytes(OLD))
    assert result.outcome == "failed" and "temp file" in result.error
    assert read(conf) == OLD and read(victim) == b"precious\n"


def test_newer_admin_write_before_call_is_kept(conf):
    """A file changed since the judging is not replaced; the conflict carries its hash."""
    admin_writes(conf, ADMIN)
    result = swap_in(conf, NEW, sha256_bytes(OLD))
    assert result.outcome == "conflict"
    assert result.displaced_sha256 == sha256_bytes(ADMIN)
    assert read(conf) == ADMIN
    assert os.listdir(os.path.dirname(conf)) == ["main.cf"]


def test_admin_write_racing_the_exchange_is_swapped_back(conf):
    """An admin write between the hash check and the exchange ends up back at the path."""
    renamer = HookedRenamer({0: lambda: admin_writes(conf, ADMIN)})
    result = swap_in(conf, NEW, sha256_bytes(OLD), renamer=renamer)
    assert result.outcome == "conflict", result
    assert result.displaced_sha256 == sha256_bytes(ADMIN)
    assert read(conf) == ADMIN
    assert result.renamed_at <= result.swapped_back_at
    assert renamer.calls == 2
    assert os.listdir(os.path.dirname(conf)) == ["main.cf"]


def test_in_place_admin_write_racing_the_exchange_is_kept(conf):
    """An in-place (O_TRUNC) write into the judged inode just before the exchange is kept."""

    def truncate_and_write():
        with open(conf, "r+b") as handle:
            handle.truncate(0)
            handle.write(ADMIN)

    renamer = HookedRenamer({0: truncate_and_write})
    result = swap_in(conf, NEW, sha256_bytes(OLD), renamer=renamer)
    assert result.outcome == "conflict"
    assert read(conf) == ADMIN


def test_second_write_during_the_window_wins_and_nothing_is_deleted(conf):
    """Two admin writes around the swap: the newest is at the path, the older kept aside."""
    second = b"# the admin's second edit\n"
    renamer = HookedRenamer(
        {0: lambda: admin_writes(conf, ADMIN), 1: lambda: admin_writes(conf, second)}
    )
    result = swap_in(conf, NEW, sha256_bytes(OLD), renamer=renamer)
    assert result.outcome == "conflict"
    assert read(conf) == second
    assert result.leftover and read(result.leftover) == ADMIN
    assert is_temp_name(result.leftover)


def test_missing_target_is_installed_with_noreplace(tmp_path):
    """A file judged missing is created with the given meta."""
    path = str(tmp_path / "main.cf")
    result = swap_in(path, NEW, None, meta=FileMeta(0o640, 1234, 2345))
    st = os.stat(path)
    assert result.outcome == "swapped"
    assert read(path) == NEW
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 1234, 2345)
    assert os.listdir(tmp_path) == ["main.cf"]


def test_file_appearing_before_noreplace_is_a_conflict(tmp_path):
    """A file created between the check and the rename is not overwritten."""
    path = str(tmp_path / "main.cf")
    renamer = HookedRenamer({0: lambda: write(path, ADMIN)})
    result = swap_in(path, NEW, None, meta=FileMeta(0o644, 0, 0), renamer=renamer)
    assert result.outcome == "conflict"
    assert result.displaced_sha256 == sha256_bytes(ADMIN)
    assert read(path) == ADMIN and os.listdir(tmp_path) == ["main.cf"]


def test_file_deleted_since_judging_is_a_conflict(conf):
    """A judged file that was deleted is not recreated."""
    os.unlink(conf)
    result = swap_in(conf, NEW, sha256_bytes(OLD))
    assert result.outcome == "conflict" and result.displaced_sha256 is None
    assert not os.path.exists(conf)


def test_missing_target_needs_meta(tmp_path):
    """Creating a file without knowing its owner and mode is a programming error."""
    with pytest.raises(ValueError, match="needs meta"):
        swap_in(str(tmp_path / "main.cf"), NEW, None)


def test_unsupported_flag_fails_and_cleans_up(conf):
    """A file system without RENAME_EXCHANGE gives failed, the temp removed, the target intact."""

    class NoExchange(Renamer):
        def rename(self, dir_fd, old, new, flags):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))

    result = swap_in(conf, NEW, sha256_bytes(OLD), renamer=NoExchange())
    assert result.outcome == "failed" and "not supported" in result.error
    assert read(conf) == OLD and os.listdir(os.path.dirname(conf)) == ["main.cf"]


def test_not_a_regular_file_fails(tmp_path):
    """A directory or FIFO at the path is not replaced."""
    os.mkfifo(tmp_path / "fifo")
    result = swap_in(str(tmp_path / "fifo"), NEW, None, meta=FileMeta(0o644, 0, 0))
    assert result.outcome == "failed" and "regular" in result.error
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)


def test_hard_link_warning(conf, tmp_path):
    """Replacing a hard-linked file says the other links keep the old content."""
    os.link(conf, tmp_path / "other")
    result = swap_in(conf, NEW, sha256_bytes(OLD))
    assert result.outcome == "swapped"
    assert any("2 links" in w for w in result.warnings)
    assert read(tmp_path / "other") == OLD


def test_restore_metadata(conf):
    """Mode, owner and group are put back on a regular file."""
    os.chmod(conf, 0o666)
    os.chown(conf, 0, 0)
    result = restore_metadata(conf, 0o640, 1234, 2345)
    st = os.stat(conf)
    assert result.outcome == "restored"
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 1234, 2345)


def test_restore_metadata_refuses_symlink(tmp_path):
    """A symlink at the path is refused and its target's metadata is untouched."""
    victim = write(tmp_path / "shadow", b"x", 0o600, (0, 0))
    os.symlink(victim, tmp_path / "main.cf")
    result = restore_metadata(str(tmp_path / "main.cf"), 0o666, 1234, 2345)
    st = os.stat(victim)
    assert result.outcome == "symlink"
    assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o600, 0)


def test_syscall_fallback_exchanges(tmp_path):
    """Without glibc's wrapper the raw syscall does the same exchange."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    renamer = Renamer(libc=SimpleNamespace(syscall=libc.syscall))
    a, b = write(tmp_path / "a", b"A"), write(tmp_path / "b", b"B")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        renamer.rename(fd, "a", "b", RENAME_EXCHANGE)
    finally:
        os.close(fd)
    assert (read(a), read(b)) == (b"B", b"A")


def test_no_renameat2_is_a_clear_error():
    """No wrapper and an unknown architecture: a clear SafeWriteError, not a crash later."""
    with pytest.raises(SafeWriteError, match="renameat2 is unavailable"):
        Renamer(libc=SimpleNamespace(syscall=None), machine="pdp11")
