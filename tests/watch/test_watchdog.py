"""watchdog backend specifics: the scan covers what watchdog misses; dead emitters are seen."""

from __future__ import annotations

import os

import pytest

from maildrift.watch.watchdog_backend import WatchdogWatcher
from tests.watch.conftest import Collector, write


@pytest.fixture
def watched(tmp_path):
    """A started watchdog watcher on tmp_path/conf, scanning every 0.2 s."""
    directory = str(tmp_path / "conf")
    os.mkdir(directory)
    write(os.path.join(directory, "main.cf"), "a = 1\n")
    sink = Collector()
    watcher = WatchdogWatcher(sink, scan_interval=0.2)
    watcher.add_directory(directory)
    watcher.start()
    yield watcher, sink, directory
    watcher.stop()


def test_scan_reports_what_watchdog_missed(watched):
    """With watchdog's own events lost (as on overflow), the scan still reports the change."""
    watcher, sink, directory = watched
    watcher._watches[directory][1].active = False  # drop everything watchdog delivers
    main = os.path.join(directory, "main.cf")
    write(main, "a = 2\n")
    assert sink.wait_for(lambda evs: any(e.path == main and e.kind == "close_write" for e in evs))
    assert watcher.alive()


def test_dead_emitter_is_not_alive(watched):
    """An emitter that stops while its directory still exists makes alive() false."""
    watcher, sink, _directory = watched
    for emitter in list(watcher._observer.emitters):
        emitter.stop()
    assert sink.wait_for(lambda _: not watcher.alive())
    assert watcher._observer.is_alive()  # what a naive alive() would have trusted


def test_deleted_root_seen_by_alive_is_reported_once(watched):
    """If alive() notices a deleted root before its event, delete_self/watch_removed come once."""
    watcher, sink, directory = watched
    os.unlink(os.path.join(directory, "main.cf"))
    os.rmdir(directory)
    watcher.alive()
    assert sink.wait_for(lambda evs: any(e.kind == "watch_removed" for e in evs))
    assert sink.wait_for(lambda _: watcher.alive() and not watcher._dead)
    kinds = [e.kind for e in sink.for_path(directory)]
    assert kinds == ["delete_self", "watch_removed"]


def test_recreated_root_rewatched_before_the_scan(tmp_path):
    """A deleted root re-added before the scan reaped its dead watch is watched for real."""
    directory = str(tmp_path / "conf")
    os.mkdir(directory)
    sink = Collector()
    watcher = WatchdogWatcher(sink, scan_interval=3600)  # the scan never runs here
    watcher.add_directory(directory)
    watcher.start()
    try:
        os.rmdir(directory)
        assert sink.wait_for(lambda evs: any(e.kind == "watch_removed" for e in evs))
        os.mkdir(directory)
        watcher.add_directory(directory)
        write(os.path.join(directory, "main.cf"), "")
        assert sink.wait_for(lambda evs: any(e.name == "main.cf" for e in evs))
        assert watcher.alive()
    finally:
        watcher.stop()
