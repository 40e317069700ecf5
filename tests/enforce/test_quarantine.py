"""The quarantine: private files, secrets never copied, no room means refusal, restore, CLI."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from maildrift.enforce.quarantine import (
    QuarantineError,
    QuarantineFull,
    QuarantineStore,
    quarantine_dir,
    writer_of,
)
from maildrift.enforce.safewrite import FileMeta, sha256_bytes, swap_in

BAD = b"smtpd_tls_auth_only = no\n"
GOOD = b"smtpd_tls_auth_only = yes\n"
KEY = b"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
RULES = [{"rule": "postfix-tls-auth-only", "status": "fail"}]
START = datetime(2026, 11, 28, 10, 15, tzinfo=timezone.utc)


class Clock:
    """A settable UTC clock."""

    def __init__(self, now: datetime = START):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def mode_of(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def put(store: QuarantineStore, path: str, content: bytes | None = BAD, **kw):
    args = {
        "secret": False,
        "rules": RULES,
        "diff": "-yes\n+no\n",
        "writer": None,
        "sha256": None,
        "meta": FileMeta(0o644, 0, 0),
    }
    args.update(kw)
    return store.put(path, content, **args)


@pytest.fixture
def store(tmp_path) -> QuarantineStore:
    """A quarantine under a state dir that does not exist yet."""
    return QuarantineStore(quarantine_dir(str(tmp_path / "state")), clock=Clock())


@pytest.fixture
def conf(tmp_path) -> str:
    """A live main.cf holding the good version."""
    (tmp_path / "etc").mkdir()
    path = tmp_path / "etc" / "main.cf"
    path.write_bytes(GOOD)
    return str(path)


def test_put_writes_private_files(store, tmp_path):
    """Data and sidecar are 0600 in 0700 directories; the sidecar says what was rejected."""
    entry = put(store, "/etc/postfix/main.cf", writer={"exe": "/usr/bin/vim"})
    assert re.match(r"^20261128T101500\.000000Z-[0-9a-f]{8}$", entry.id)
    assert mode_of(tmp_path / "state") == 0o700
    assert mode_of(store.directory) == 0o700
    assert sorted(os.listdir(store.directory)) == [entry.id + ".data", entry.id + ".json"]
    for name in os.listdir(store.directory):
        assert mode_of(os.path.join(store.directory, name)) == 0o600
    with open(os.path.join(store.directory, entry.id + ".json"), encoding="utf-8") as handle:
        sidecar = json.load(handle)
    assert sidecar["path"] == "/etc/postfix/main.cf"
    assert sidecar["sha256"] == sha256_bytes(BAD)
    assert sidecar["rules"] == RULES and sidecar["diff"] == "-yes\n+no\n"
    assert sidecar["writer"] == {"exe": "/usr/bin/vim"}
    assert sidecar["meta"] == {"mode": 0o644, "uid": 0, "gid": 0}
    assert store.get(entry.id) == entry and store.list() == [entry]
    assert store.content(entry.id) == BAD


def test_secret_is_never_copied(store):
    """A secret file's bytes are dropped even when passed; the sidecar keeps metadata."""
    entry = put(store, "/etc/pki/tls/private/postfix.key", KEY, secret=True, diff="secret diff")
    assert entry.secret and not entry.stored and entry.exists and entry.diff == ""
    assert os.listdir(store.directory) == [entry.id + ".json"]
    with open(os.path.join(store.directory, entry.id + ".json"), "rb") as handle:
        sidecar = handle.read()
    assert b"PRIVATE KEY" not in sidecar and b"MIIEvQ" not in sidecar
    with pytest.raises(QuarantineError, match="metadata only"):
        store.content(entry.id)


def test_wrong_hash_is_refused(store):
    """A caller's hash that does not match the content is a bug, not an entry."""
    with pytest.raises(ValueError, match="sha256"):
        put(store, "/etc/postfix/main.cf", sha256="0" * 64)


def test_size_cap_refuses_without_deleting(tmp_path):
    """Past the size cap a new entry is refused and the old ones are all kept."""
    store = QuarantineStore(str(tmp_path / "q"), max_bytes=2048, clock=Clock())
    first = put(store, "/etc/postfix/main.cf")
    with pytest.raises(QuarantineFull, match="size cap"):
        put(store, "/etc/postfix/main.cf", b"x" * 4096)
    assert [e.id for e in store.list()] == [first.id]
    assert len(os.listdir(store.directory)) == 2


@pytest.fixture
def tiny_fs(tmp_path):
    """A 64 KiB tmpfs, unmounted afterwards."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield str(mount_point)
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_full_file_system_refuses(tiny_fs):
    """statvfs shows no room on a 64 KiB file system: QuarantineFull, nothing written."""
    store = QuarantineStore(os.path.join(tiny_fs, "q"), reserve_bytes=0, clock=Clock())
    with pytest.raises(QuarantineFull, match="bytes free"):
        put(store, "/etc/postfix/main.cf", b"x" * 100_000)
    assert os.listdir(store.directory) == []


def test_enospc_from_the_kernel_refuses_and_cleans_up(tiny_fs, monkeypatch):
    """When statvfs is wrong, the kernel's ENOSPC still gives QuarantineFull and no debris."""
    store = QuarantineStore(os.path.join(tiny_fs, "q"), reserve_bytes=0, clock=Clock())
    real = os.statvfs(tiny_fs)
    plenty = os.statvfs_result((4096, 4096, 1 << 30, 1 << 30, 1 << 30, *real[5:]))
    monkeypatch.setattr(os, "statvfs", lambda path: plenty)
    with pytest.raises(QuarantineFull, match="no space"):
        put(store, "/etc/postfix/main.cf", b"x" * 100_000)
    assert os.listdir(store.directory) == []


def test_prune_by_age_and_count(tmp_path):
    """prune deletes entries past retention, then the oldest beyond max_entries."""
    clock = Clock()
    store = QuarantineStore(str(tmp_path / "q"), max_entries=2, retention_days=30, clock=clock)
    ids = []
    for days in (0, 40, 50, 60):
        clock.now = START + timedelta(days=days)
        ids.append(put(store, "/etc/postfix/main.cf").id)
    clock.now = START + timedelta(days=65)
    assert store.prune() == [ids[0], ids[1]]
    assert [e.id for e in store.list()] == ids[2:]
    assert store.prune() == []
    clock.now = START + timedelta(days=100)
    assert store.prune() == ids[2:] and os.listdir(store.directory) == []


def test_unknown_and_malformed_ids(store):
    """An id that is not an entry, or looks like a path, is a one-line QuarantineError."""
    for bad in ("20261128T101500.000000Z-deadbeef", "../../etc/shadow", ""):
        with pytest.raises(QuarantineError, match="no quarantine entry"):
            store.get(bad)


def test_restore_quarantines_the_displaced_version(store, conf):
    """Restoring puts the entry back and first keeps the version it replaces."""
    os.chmod(conf, 0o640)
    entry = put(store, conf, BAD, meta=FileMeta(0o600, 0, 0))
    restored = store.restore(entry.id)
    assert restored.swap.outcome == "swapped"
    with open(conf, "rb") as handle:
        assert handle.read() == BAD
    assert mode_of(conf) == 0o600
    displaced = restored.displaced
    assert store.content(displaced.id) == GOOD
    assert displaced.reason == f"displaced by the restore of {entry.id}"
    assert displaced.meta == FileMeta(0o640, 0, 0)
    assert "-smtpd_tls_auth_only = no" in displaced.diff
    assert store.restore(entry.id).unchanged


def test_restore_conflict_keeps_the_newest(store, conf):
    """An admin write during the restore stays at the path; nothing is lost."""
    entry = put(store, conf, BAD)
    newest = b"# the admin's newest\n"

    def racing_swap(path, data, expected, **kw):
        with open(path + ".swp", "wb") as handle:
            handle.write(newest)
        os.rename(path + ".swp", path)
        return swap_in(path, data, expected, **kw)

    restored = store.restore(entry.id, swap=racing_swap)
    assert restored.swap.outcome == "conflict"
    with open(conf, "rb") as handle:
        assert handle.read() == newest
    assert store.content(restored.displaced.id) == GOOD
    assert store.content(entry.id) == BAD


def test_restore_refuses_secret_and_symlink(store, conf, tmp_path):
    """A metadata-only entry cannot be restored, nor can anything through a symlink."""
    secret = put(store, "/etc/pki/tls/private/postfix.key", KEY, secret=True)
    with pytest.raises(QuarantineError, match="metadata only"):
        store.restore(secret.id)
    link = str(tmp_path / "link.cf")
    os.symlink(conf, link)
    entry = put(store, link, BAD)
    with pytest.raises(QuarantineError, match="symlink"):
        store.restore(entry.id)
    with open(conf, "rb") as handle:
        assert handle.read() == GOOD


AUSEARCH = """\
----
type=PROCTITLE msg=audit(11/28/2026 10:14:58.100:455) : proctitle=sed -i s/a/b/ main.cf
type=SYSCALL msg=audit(11/28/2026 10:14:58.100:455) : arch=x86_64 syscall=rename \
success=yes exit=0 ppid=900 pid=1200 auid=bob uid=root comm=sed exe=/usr/bin/sed
----
type=PATH msg=audit(11/28/2026 10:15:00.123:456) : item=0 name=/etc/postfix/main.cf ouid=root
type=SYSCALL msg=audit(11/28/2026 10:15:00.123:456) : arch=x86_64 syscall=openat \
success=yes exit=3 ppid=1000 pid=1234 auid=alice uid=root gid=root euid=root suid=root \
tty=pts0 ses=3 comm=vi exe=/usr/bin/vim key=maildrift
"""


def test_writer_from_ausearch():
    """The last SYSCALL record names the writer; ausearch is called without a shell."""
    calls = []

    def run(argv, **kw):
        calls.append((argv, kw))
        return subprocess.CompletedProcess(argv, 0, AUSEARCH, "")

    writer = writer_of("/etc/postfix/main.cf", run=run, which=lambda n: "/sbin/ausearch")
    assert writer == {
        "pid": "1234",
        "auid": "alice",
        "uid": "root",
        "comm": "vi",
        "exe": "/usr/bin/vim",
        "time": "11/28/2026 10:15:00.123",
        "source": "auditd",
    }
    assert calls[0][0] == ["/sbin/ausearch", "-f", "/etc/postfix/main.cf", "-ts", "recent", "-i"]
    assert calls[0][1]["timeout"] == 2 and "shell" not in calls[0][1]


def test_writer_unknown_never_raises():
    """No ausearch, no match, or a hang: None, never an exception."""

    def hang(argv, **kw):
        raise subprocess.TimeoutExpired(argv, 2)

    def nomatch(argv, **kw):
        return subprocess.CompletedProcess(argv, 1, "", "<no matches>\n")

    assert writer_of("/x", which=lambda n: None) is None
    assert writer_of("/x", run=hang, which=lambda n: "/sbin/ausearch") is None
    assert writer_of("/x", run=nomatch, which=lambda n: "/sbin/ausearch") is None


def cli(state: str, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "maildrift", "quarantine", *args, "--state-dir", state]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_cli_list_show_restore(tmp_path, conf):
    """list, show and restore work end to end with exit 0."""
    state = str(tmp_path / "state")
    store = QuarantineStore(quarantine_dir(state))
    entry = put(store, conf, BAD, diff="-yes\n+no\n")
    listing = cli(state, "list")
    assert listing.returncode == 0 and entry.id in listing.stdout and conf in listing.stdout
    as_json = json.loads(cli(state, "list", "--format", "json").stdout)
    assert [e["id"] for e in as_json] == [entry.id]
    show = cli(state, "show", entry.id)
    assert show.returncode == 0
    assert "postfix-tls-auth-only" in show.stdout and "+no" in show.stdout
    restore = cli(state, "restore", entry.id)
    assert restore.returncode == 0, restore.stderr
    assert restore.stdout.startswith(f"restored {conf} from {entry.id}")
    with open(conf, "rb") as handle:
        assert handle.read() == BAD
    assert len(store.list()) == 2


def test_cli_errors_are_one_line_exit_2(tmp_path):
    """Unknown ids and unrestorable entries: one line on stderr, exit 2, no traceback."""
    state = str(tmp_path / "state")
    secret = put(QuarantineStore(quarantine_dir(state)), "/k/private/x.key", KEY, secret=True)
    for action, entry_id in (("show", "nope"), ("restore", "nope"), ("restore", secret.id)):
        proc = cli(state, action, entry_id)
        assert proc.returncode == 2, proc
        assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr
        assert proc.stderr.startswith("maildrift: ")


def test_writer_skips_maildrifts_own_records():
    """A record of maildrift's own swap, logged after the edit, is not named as the writer."""
    own = (
        f"type=SYSCALL msg=audit(11/28/2026 10:15:00.200:457) : arch=x86_64 syscall=renameat2 "
        f"success=yes exit=0 ppid=1 pid={os.getpid()} auid=unset uid=root comm=maildrift "
        "exe=/usr/bin/python3\n"
    )

    def run(argv, **kw):
        return subprocess.CompletedProcess(argv, 0, AUSEARCH + "----\n" + own, "")

    writer = writer_of("/etc/postfix/main.cf", run=run, which=lambda n: "/sbin/ausearch")
    assert writer is not None and writer["comm"] == "vi" and writer["pid"] == "1234"
