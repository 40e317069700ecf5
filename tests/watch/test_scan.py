"""The stat-and-hash scan: what it reads, what it reports."""

from __future__ import annotations

import dataclasses
import os
import time

import pytest

from maildrift.watch import scan
from maildrift.watch.scan import diff_snapshots, take_snapshot
from tests.watch.conftest import write


@pytest.fixture
def opened(monkeypatch):
    """The paths the scan reads, recorded."""
    paths = []
    real = scan._hash

    def recording(path, st):
        paths.append(os.path.basename(path))
        return real(path, st)

    monkeypatch.setattr(scan, "_hash", recording)
    return paths


def test_secrets_are_never_read(tmp_path, opened):
    """Secret names, private modes and the caller's secrets get stat only; main.cf is hashed."""
    names = {"main.cf", "server.key", "sasl_passwd", "private.conf", "mine.cf"}
    for name in names:
        write(str(tmp_path / name), "x\n")
    os.chmod(tmp_path / "private.conf", 0o600)
    snapshot = take_snapshot(
        str(tmp_path), None, lambda p: p.endswith("mine.cf") or scan.default_is_secret(p)
    )
    assert opened == ["main.cf"]
    assert set(snapshot.entries) == names
    assert snapshot.entries["server.key"].digest is None


def test_a_broken_predicate_fails_closed(tmp_path, opened):
    """A secret predicate that raises means stat only, not a crash and not a read."""
    write(str(tmp_path / "main.cf"), "x\n")

    def broken(_path):
        raise RuntimeError("predicate bug")

    assert take_snapshot(str(tmp_path), None, broken).entries["main.cf"].digest is None
    assert opened == []


def test_old_files_are_not_reread(tmp_path, opened):
    """A file unchanged since well before the previous scan keeps its digest without a read."""
    write(str(tmp_path / "main.cf"), "x\n")
    first = take_snapshot(str(tmp_path))
    assert opened == ["main.cf"]
    later = dataclasses.replace(first, taken_ns=time.time_ns() + 60 * 10**9)
    second = take_snapshot(str(tmp_path), later)
    assert opened == ["main.cf"]
    assert second.entries["main.cf"].digest == first.entries["main.cf"].digest


def test_same_stat_rewrite_is_found_by_hash(tmp_path):
    """Content that changed without any stat change (same size, same tick) is a close_write."""
    write(str(tmp_path / "main.cf"), "x\n")
    now = take_snapshot(str(tmp_path))
    entry = now.entries["main.cf"]
    before = dataclasses.replace(
        now, entries={"main.cf": dataclasses.replace(entry, digest=b"older content")}
    )
    assert diff_snapshots(before, now) == [("close_write", "main.cf")]


def test_touch_is_attrib_and_write_is_close_write(tmp_path):
    """A new mtime with the same content is attrib; new content is close_write."""
    path = str(tmp_path / "main.cf")
    write(path, "x = 1\n")
    first = take_snapshot(str(tmp_path))
    os.utime(path, ns=(1, 1))
    second = take_snapshot(str(tmp_path), first)
    assert diff_snapshots(first, second) == [("attrib", "main.cf")]
    write(path, "x = 2\n")
    third = take_snapshot(str(tmp_path), second)
    assert diff_snapshots(second, third) == [("close_write", "main.cf")]


def test_replaced_inode_is_moved_to(tmp_path):
    """Another inode under the same name (a rename-save) is moved_to; gone and new names too."""
    write(str(tmp_path / "main.cf"), "a\n")
    write(str(tmp_path / "old.cf"), "a\n")
    first = take_snapshot(str(tmp_path))
    write(str(tmp_path / "main.cf.tmp"), "b\n")
    os.replace(tmp_path / "main.cf.tmp", tmp_path / "main.cf")
    os.rename(tmp_path / "old.cf", tmp_path / "new.cf")
    second = take_snapshot(str(tmp_path), first)
    assert diff_snapshots(first, second) == [
        ("delete", "old.cf"),
        ("create", "new.cf"),
        ("moved_to", "main.cf"),
    ]


def test_subdirectory_contents_are_not_parent_events(tmp_path):
    """Like inotify, a change inside a subdirectory is not an event of the parent; its chmod is."""
    os.mkdir(tmp_path / "conf.d")
    first = take_snapshot(str(tmp_path))
    write(str(tmp_path / "conf.d" / "10-auth.conf"), "x\n")
    second = take_snapshot(str(tmp_path), first)
    assert diff_snapshots(first, second) == []
    os.chmod(tmp_path / "conf.d", 0o700)
    third = take_snapshot(str(tmp_path), second)
    assert diff_snapshots(second, third) == [("attrib", "conf.d")]


def test_fifo_and_missing_directory(tmp_path, opened):
    """A FIFO is stat()ed, never opened; a missing directory snapshots as None."""
    os.mkfifo(tmp_path / "pipe")
    assert "pipe" in take_snapshot(str(tmp_path)).entries
    assert opened == []
    assert take_snapshot(str(tmp_path / "missing")) is None
