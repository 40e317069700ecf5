"""pyinotify backend specifics: queue overflow, odd names, limits and a dead thread."""

from __future__ import annotations

import ctypes
import errno
import os
import threading

import pytest

from maildrift.watch import WatchLimitError
from maildrift.watch.pyinotify_backend import PyinotifyWatcher
from tests.watch.conftest import TIMEOUT, Collector, write

MAX_QUEUED = "/proc/sys/fs/inotify/max_queued_events"


def _max_queued() -> int:
    with open(MAX_QUEUED, encoding="ascii") as handle:
        return int(handle.read())


@pytest.fixture
def watched(tmp_path):
    """A started pyinotify watcher on tmp_path/conf with a collecting sink."""
    directory = str(tmp_path / "conf")
    os.mkdir(directory)
    sink = Collector()
    watcher = PyinotifyWatcher(sink)
    watcher.add_directory(directory)
    yield watcher, sink, directory
    watcher.stop()


def test_overflow_is_reported(tmp_path):
    """More than max_queued_events events while the reader is blocked arrive as one overflow."""
    limit = _max_queued()
    if limit > 200_000:
        pytest.skip(f"max_queued_events is {limit}: too many files to create quickly")
    directory = str(tmp_path)
    entered, release = threading.Event(), threading.Event()
    got = Collector()

    def blocking_sink(event):
        entered.set()
        release.wait(120)  # holds the notifier thread, so the kernel queue fills
        got(event)

    watcher = PyinotifyWatcher(blocking_sink)
    watcher.add_directory(directory)
    watcher.start()
    try:
        write(os.path.join(directory, "first"), "")
        assert entered.wait(TIMEOUT)
        # Each new file queues create + close_write; distinct names cannot be merged.
        for number in range(limit // 2 + 200):
            os.close(os.open(os.path.join(directory, f"f{number}"), os.O_CREAT | os.O_WRONLY))
    finally:
        release.set()
    try:
        assert got.wait_for(lambda evs: any(e.kind == "overflow" for e in evs), 60)
        overflow = next(e for e in got.snapshot() if e.kind == "overflow")
        assert (overflow.path, overflow.directory, overflow.name) == ("", "", "")
        assert watcher.alive()
        write(os.path.join(directory, "after"), "")
        assert got.wait_for(lambda evs: any(e.name == "after" for e in evs), 60)
    finally:
        watcher.stop()


def test_non_utf8_name_does_not_kill_the_thread(watched):
    """A file name that is not UTF-8 is reported surrogate-escaped (pyinotify itself would die)."""
    watcher, sink, directory = watched
    watcher.start()
    raw = os.path.join(os.fsencode(directory), b"\xff\xfe.cf")
    with open(raw, "wb"):
        pass
    name = os.fsdecode(b"\xff\xfe.cf")
    assert sink.wait_for(lambda evs: any(e.name == name and e.kind == "close_write" for e in evs))
    assert watcher.alive()


def test_watch_limit_raises_watch_limit_error(watched, monkeypatch):
    """inotify_add_watch failing with ENOSPC raises WatchLimitError naming the sysctl."""
    watcher, _sink, directory = watched
    wrapper = watcher._wm._inotify_wrapper

    def full(_fd, _path, _mask):
        ctypes.set_errno(errno.ENOSPC)
        wrapper._last_errno = errno.ENOSPC  # the non-ctypes wrapper keeps it here
        return -1

    monkeypatch.setattr(wrapper, "_inotify_add_watch", full)
    other = os.path.join(os.path.dirname(directory), "other")
    os.mkdir(other)
    with pytest.raises(WatchLimitError) as info:
        watcher.add_directory(other)
    assert info.value.errno == errno.ENOSPC
    assert "max_user_watches" in str(info.value)
    assert watcher.directories() == [directory]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_dead_thread_is_not_alive(watched, monkeypatch):
    """When the notifier thread dies, alive() turns false and failure says why."""
    watcher, sink, directory = watched

    def broken():
        raise OSError(errno.EBADF, "inotify fd went away")

    monkeypatch.setattr(watcher._notifier, "read_events", broken)
    watcher.start()
    write(os.path.join(directory, "x"), "")
    assert sink.wait_for(lambda _: not watcher.alive())
    assert isinstance(watcher.failure, OSError)


def test_symlinked_directory_reports_under_each_path(watched):
    """One directory watched under two names (a symlink) reports each event under both."""
    watcher, sink, directory = watched
    alias = directory + "-link"
    os.symlink(directory, alias)
    watcher.add_directory(alias)
    watcher.start()
    write(os.path.join(directory, "main.cf"), "")
    paths = {os.path.join(directory, "main.cf"), os.path.join(alias, "main.cf")}
    assert sink.wait_for(lambda evs: paths <= {e.path for e in evs if e.kind == "close_write"})
    watcher.remove_directory(alias)
    assert watcher.directories() == [directory]
    write(os.path.join(directory, "again.cf"), "")
    assert sink.wait_for(lambda evs: any(e.name == "again.cf" for e in evs))
    assert not [e for e in sink.snapshot() if e.path == os.path.join(alias, "again.cf")]
