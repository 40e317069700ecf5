"""Choosing a backend, and falling back per directory when a watch cannot be added."""

from __future__ import annotations

import errno
import os
import sys

import pytest

from maildrift.watch import (
    Watcher,
    WatchError,
    WatchPathError,
    make_watcher,
    select_backend,
)
from maildrift.watch.events import watch_error
from maildrift.watch.pyinotify_backend import PyinotifyWatcher
from tests.watch.conftest import Collector, write


@pytest.fixture
def conf(tmp_path):
    """A directory to watch."""
    directory = str(tmp_path / "conf")
    os.mkdir(directory)
    return directory


@pytest.fixture
def stopping():
    """Watchers to stop after the test."""
    watchers = []
    yield watchers
    for watcher in watchers:
        watcher.stop()


def test_default_is_pyinotify(conf, stopping):
    """make_watcher picks pyinotify here, says so, and satisfies the Watcher protocol."""
    watcher = make_watcher(Collector())
    stopping.append(watcher)
    watcher.start()
    watcher.add_directory(conf)
    assert isinstance(watcher, Watcher)
    assert (watcher.backend, watcher.reason) == ("pyinotify", "pyinotify preferred")
    assert watcher.backends() == {conf: "pyinotify"}
    assert watcher.alive()


def test_without_pyinotify_watchdog_runs(conf, stopping, monkeypatch):
    """If pyinotify cannot import (3.12 without pyasyncore), watchdog runs and reason says why."""
    monkeypatch.setitem(sys.modules, "pyinotify", None)
    monkeypatch.delitem(sys.modules, "maildrift.watch.pyinotify_backend")
    watcher, reason = select_backend(Collector(), scan_interval=0.2)
    stopping.append(watcher)
    assert watcher.backend == "watchdog"
    assert reason.startswith("pyinotify unavailable (ModuleNotFoundError")


def test_prefer_and_unknown_backend():
    """prefer starts the order later; an unknown name is refused."""
    watcher, reason = select_backend(Collector(), prefer="poll")
    assert (watcher.backend, reason) == ("poll", "poll preferred")
    with pytest.raises(ValueError, match="choose from pyinotify, watchdog, poll"):
        make_watcher(Collector(), prefer="fanotify")


def test_watch_limit_sends_the_directory_to_polling(conf, stopping, monkeypatch):
    """ENOSPC from pyinotify polls that directory (skipping watchdog, which would hit it too)."""

    def full(self, path):
        raise watch_error(errno.ENOSPC, path)

    monkeypatch.setattr(PyinotifyWatcher, "add_directory", full)
    sink = Collector()
    watcher = make_watcher(sink, poll_interval=0.1)
    stopping.append(watcher)
    watcher.start()
    watcher.add_directory(conf)
    assert watcher.backend == "poll"
    assert "max_user_watches" in watcher.reason
    assert "watchdog" not in watcher._running
    assert watcher.directories() == [conf]
    write(os.path.join(conf, "main.cf"), "")
    assert sink.wait_for(lambda evs: any(e.name == "main.cf" for e in evs))
    assert watcher.alive()


def test_other_pyinotify_failure_goes_to_watchdog(conf, stopping, monkeypatch):
    """Any other failure of a pyinotify watch hands the directory to watchdog."""

    def broken(self, path):
        raise WatchError(errno.EIO, "odd failure", path)

    monkeypatch.setattr(PyinotifyWatcher, "add_directory", broken)
    watcher = make_watcher(Collector(), scan_interval=0.2)
    stopping.append(watcher)
    watcher.start()
    watcher.add_directory(conf)
    assert watcher.backends() == {conf: "watchdog"}
    assert watcher.backend == "watchdog"
    watcher.remove_directory(conf)
    assert watcher.directories() == []


def test_path_errors_do_not_fall_back(tmp_path, stopping):
    """A missing directory is the caller's problem: WatchPathError, no fallback backend built."""
    watcher = make_watcher(Collector())
    stopping.append(watcher)
    with pytest.raises(WatchPathError) as info:
        watcher.add_directory(str(tmp_path / "missing"))
    assert info.value.errno == errno.ENOENT
    assert list(watcher._running) == ["pyinotify"]


def test_dead_backend_makes_the_chain_not_alive(conf, stopping, monkeypatch):
    """alive() is false as soon as any backend in use is not alive."""
    watcher = make_watcher(Collector())
    stopping.append(watcher)
    assert not watcher.alive()  # not started yet
    watcher.start()
    watcher.add_directory(conf)
    assert watcher.alive()
    monkeypatch.setattr(PyinotifyWatcher, "alive", lambda self: False)
    assert not watcher.alive()
