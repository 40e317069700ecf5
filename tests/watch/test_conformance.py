"""One conformance suite for every watcher backend, with each backend's documented limits."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import time

import pytest

from maildrift.watch.polling_backend import PollingWatcher
from maildrift.watch.pyinotify_backend import PyinotifyWatcher
from maildrift.watch.watchdog_backend import WatchdogWatcher

BACKENDS = {
    "pyinotify": lambda sink: PyinotifyWatcher(sink),
    "watchdog": lambda sink: WatchdogWatcher(sink, scan_interval=0.5),
    "poll": lambda sink: PollingWatcher(sink, interval=0.2),
}
#: What each backend reports for an in-place write and a chmod (docs/watching.md).
WRITE_KIND = {"pyinotify": {"close_write"}, "watchdog": {"close_write"}, "poll": {"close_write"}}
ATTRIB_KIND = {"pyinotify": {"attrib"}, "watchdog": {"attrib", "close_write"}, "poll": {"attrib"}}


@pytest.fixture(params=sorted(BACKENDS))
def watched(request, tmp_path):
    """A started watcher of one backend on a temp directory, and its event queue."""
    events: queue.Queue = queue.Queue()
    directory = tmp_path / "conf"
    directory.mkdir()
    (directory / "main.cf").write_text("a = 1\n")
    watcher = BACKENDS[request.param](events.put)
    watcher.start()
    watcher.add_directory(str(directory))
    time.sleep(0.3)
    yield request.param, watcher, str(directory), events
    watcher.stop()


def collect(events: queue.Queue, want, timeout: float = 10.0) -> list:
    """Events until one satisfies ``want`` (a generous deadline; not a speed test)."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            event = events.get(timeout=0.1)
        except queue.Empty:
            continue
        seen.append(event)
        if want(event):
            return seen
    raise AssertionError(f"not seen; got {[(e.kind, e.path) for e in seen]}")


def test_in_place_write(watched):
    """An in-place write reports a write on that file."""
    backend, _, directory, events = watched
    path = os.path.join(directory, "main.cf")
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("b = 2\n")
    collect(events, lambda e: e.path == path and e.kind in WRITE_KIND[backend])


def test_rename_over_the_file(watched):
    """A temp file moved over main.cf is reported on main.cf."""
    _, _, directory, events = watched
    temp = os.path.join(directory, "main.cf.tmp")
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write("c = 3\n")
    os.rename(temp, os.path.join(directory, "main.cf"))
    target = os.path.join(directory, "main.cf")
    collect(events, lambda e: e.path == target and e.kind in ("moved_to", "close_write"))


def test_sed_in_place(watched):
    """The real sed -i is reported on main.cf."""
    _, _, directory, events = watched
    target = os.path.join(directory, "main.cf")
    subprocess.run(["sed", "-i", "s/a = 1/a = 2/", target], check=True)
    collect(events, lambda e: e.path == target and e.kind in ("moved_to", "close_write"))


def test_chmod(watched):
    """A chmod is reported as an attribute change."""
    backend, _, directory, events = watched
    target = os.path.join(directory, "main.cf")
    os.chmod(target, 0o666)
    collect(events, lambda e: e.path == target and e.kind in ATTRIB_KIND[backend])


def test_create_and_delete(watched):
    """A new file and its deletion are both reported."""
    _, _, directory, events = watched
    path = os.path.join(directory, "new.cf")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("x = 1\n")
    collect(events, lambda e: e.path == path and e.kind in ("create", "close_write"))
    os.unlink(path)
    collect(events, lambda e: e.path == path and e.kind == "delete")


def test_deleting_the_directory(watched):
    """Deleting the watched directory is reported and it leaves directories()."""
    _backend, watcher, directory, events = watched
    shutil.rmtree(directory)
    kinds = {"delete_self", "watch_removed", "delete"}
    collect(events, lambda e: e.kind in kinds and (e.path == directory or e.directory == directory))
    deadline = time.monotonic() + 10
    while directory in watcher.directories() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert directory not in watcher.directories()


def test_a_raising_sink_does_not_kill_the_watcher(tmp_path):
    """A sink that raises is counted; the watcher keeps delivering."""
    for name, factory in BACKENDS.items():
        calls = []

        def sink(event, calls=calls):
            calls.append(event)
            raise RuntimeError("boom")

        directory = tmp_path / name
        directory.mkdir()
        watcher = factory(sink)
        watcher.start()
        watcher.add_directory(str(directory))
        try:
            for index in range(2):
                (directory / f"f{index}").write_text("x")
                deadline = time.monotonic() + 10
                while len(calls) <= index and time.monotonic() < deadline:
                    time.sleep(0.05)
            assert len(calls) >= 2, name
            assert watcher.alive(), name
        finally:
            watcher.stop()
