"""One suite for every backend: each edit yields exactly the kinds maildrift.watch.matrix lists."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

from tests.watch.conftest import TIMEOUT, write


def test_write_in_place(harness):
    """Writing main.cf in place (open, write, close) is a close_write."""
    harness.start()
    write(harness.main, "smtpd_tls_auth_only = no\n")
    harness.expect("write in place", harness.main)


def test_mv_over(harness):
    """mv tmp main.cf (Ansible's way) is moved_to main.cf, and the temp name leaves."""
    temp = harness.main + ".tmp"
    write(temp, "smtpd_tls_auth_only = no\n")
    harness.start()
    subprocess.run(["mv", temp, harness.main], check=True)
    moved = harness.expect("mv tmp main.cf: main.cf", harness.main)
    harness.expect("mv tmp main.cf: tmp", temp)
    source = [e for e in harness.sink.for_path(temp) if e.kind == "moved_from"]
    if source:  # the halves of one rename share a cookie
        assert source[0].cookie == moved[0].cookie != 0


def test_sed_in_place(harness):
    """The real sed -i renames a temp file over main.cf: moved_to, never close_write on it."""
    harness.start()
    subprocess.run(["sed", "-i", "s/yes/no/", harness.main], check=True, timeout=30)
    harness.expect("sed -i", harness.main)


def test_chmod(harness):
    """chmod is attrib (watchdog 6 says modify, and its scan adds attrib)."""
    harness.start()
    os.chmod(harness.main, 0o666)
    harness.expect("chmod", harness.main)


def test_create(harness):
    """A new file is create (and close_write where the backend sees the close)."""
    harness.start()
    new = os.path.join(harness.dir, "new.cf")
    write(new, "")
    harness.expect("create", new)


def test_delete(harness):
    """Deleting main.cf is delete."""
    harness.start()
    os.unlink(harness.main)
    harness.expect("delete", harness.main)


def test_move_out(harness):
    """Moving main.cf out of the watched directory: moved_from with inotify, else delete."""
    harness.start()
    os.rename(harness.main, os.path.join(harness.outside, "main.cf"))
    harness.expect("move out of the directory", harness.main)


def test_move_in(harness):
    """Moving a file in from an unwatched directory: moved_to with inotify, else create."""
    source = os.path.join(harness.outside, "extra.cf")
    write(source, "x = 1\n")
    harness.start()
    target = os.path.join(harness.dir, "extra.cf")
    os.rename(source, target)
    harness.expect("move in from elsewhere", target)


def test_directory_deleted_then_rewatched(harness):
    """rm -rf of the watched directory ends its watch; a recreated one can be watched again."""
    watcher = harness.start()
    shutil.rmtree(harness.dir)
    events = harness.expect("watched directory deleted", harness.dir)
    assert events[-1].kind == "watch_removed"
    assert harness.dir not in watcher.directories()
    assert watcher.alive()
    os.mkdir(harness.dir)
    watcher.add_directory(harness.dir)
    assert watcher.directories() == [harness.dir]
    write(harness.main, "back = 1\n")
    assert harness.sink.wait_for(lambda evs: any(e.path == harness.main for e in evs[-5:]))


def test_directory_moved(harness):
    """Renaming the watched directory ends its watch (move_self with inotify)."""
    watcher = harness.start()
    os.rename(harness.dir, harness.dir + ".old")
    events = harness.expect("watched directory moved", harness.dir)
    assert events[-1].kind == "watch_removed"
    assert watcher.directories() == []
    assert watcher.alive()


def test_written_still_open(harness):
    """With report_modify, data written to a still-open file is reported before the close."""
    harness.start(report_modify=True)
    with open(harness.main, "a", encoding="utf-8") as handle:
        handle.write("more = 1\n")
        handle.flush()
        harness.expect("written, still open (report_modify)", harness.main)


def test_symlinked_directory(harness):
    """A directory watched through a symlink (say /etc/postfix -> elsewhere) reports its edits."""
    alias = os.path.join(harness.base, "alias")
    os.symlink(harness.dir, alias)
    watcher = harness.start(directory=alias)
    assert watcher.directories() == [alias]
    target = os.path.join(alias, "main.cf")
    write(target, "smtpd_tls_auth_only = no\n")
    harness.expect("write in place", target)


def test_raising_sink_does_not_kill_the_watcher(harness):
    """A sink that raises is counted and swallowed; the watcher keeps delivering."""
    broken = threading.Event()
    broken.set()

    def sink(event):
        if broken.is_set():
            raise RuntimeError("sink broke")
        harness.sink(event)

    harness.expect_errors = True
    watcher = harness.start(sink=sink)
    write(harness.main, "first = 1\n")
    assert harness.sink.wait_for(lambda _: watcher.errors >= 1)
    broken.clear()
    os.unlink(harness.main)
    assert harness.sink.wait_for(lambda evs: any(e.kind == "delete" for e in evs), TIMEOUT)
    assert watcher.alive()


def test_missing_directory_is_a_path_error(harness, tmp_path):
    """Adding a missing directory or a file raises WatchPathError and watches nothing new."""
    from maildrift.watch import WatchPathError

    watcher = harness.start()
    for bad in (str(tmp_path / "missing"), harness.main):
        try:
            watcher.add_directory(bad)
        except WatchPathError as exc:
            assert exc.filename == bad
        else:
            raise AssertionError(f"{bad} was accepted")
    assert watcher.directories() == [harness.dir]


def test_remove_directory_stops_events(harness):
    """After remove_directory nothing more is reported for that directory."""
    watcher = harness.start()
    watcher.remove_directory(harness.dir)
    watcher.remove_directory(harness.dir)  # unknown now: a no-op
    assert watcher.directories() == []
    write(harness.main, "unseen = 1\n")
    other = os.path.join(harness.outside)
    watcher.add_directory(other)
    write(os.path.join(other, "seen.cf"), "")
    assert harness.sink.wait_for(lambda evs: any(e.directory == other for e in evs))
    assert not [e for e in harness.sink.snapshot() if e.directory == harness.dir]
