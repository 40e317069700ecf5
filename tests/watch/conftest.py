"""A harness that runs one watcher backend on a temp directory and collects its events."""

from __future__ import annotations

import os
import threading
import time

import pytest

from maildrift.watch.matrix import MATRIX, column_for, produces
from maildrift.watch.selection import _build, _options

BACKENDS = ("pyinotify", "watchdog", "poll")
#: Generous: events can take seconds on a loaded machine.  Only waits, never speed checks.
TIMEOUT = 15.0
#: Short intervals keep the suite fast; the behaviour is the same at 1 s and 5 s.
FAST = {"scan_interval": 0.2, "poll_interval": 0.1}
#: After the expected kinds arrived, how long to keep listening for extra ones.
QUIET = {"pyinotify": 0.3, "watchdog": 0.9, "poll": 0.5}


class Collector:
    """A sink that keeps every event and lets a test wait for some."""

    def __init__(self) -> None:
        self.events = []
        self._cond = threading.Condition()

    def __call__(self, event) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def snapshot(self) -> list:
        with self._cond:
            return list(self.events)

    def for_path(self, path: str) -> list:
        return [e for e in self.snapshot() if e.path == path]

    def wait_for(self, predicate, timeout: float = TIMEOUT) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(list(self.events)):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))  # predicates may look beyond the events
            return True


class Harness:
    """One backend watching ``root/conf``, which holds ``main.cf``."""

    def __init__(self, backend: str, base: str) -> None:
        self.backend = backend
        self.column = column_for(backend)
        self.base = base
        self.dir = os.path.join(base, "conf")
        self.outside = os.path.join(base, "outside")
        os.makedirs(self.dir)
        os.makedirs(self.outside)
        self.main = os.path.join(self.dir, "main.cf")
        write(self.main, "smtpd_tls_auth_only = yes\n")
        self.sink = Collector()
        self.watcher = None
        self.expect_errors = False

    def start(self, sink=None, directory=None, **options):
        """Build, add ``conf`` (or ``directory``) and start; ``sink`` replaces the collector."""
        options = _options({**FAST, **options})
        self.watcher = _build(self.backend, sink or self.sink, options)
        self.watcher.add_directory(directory or self.dir)
        self.watcher.start()
        assert self.watcher.alive()
        return self.watcher

    def expect(self, situation: str, path: str) -> list:
        """Wait for the matrix's kinds for ``path``, listen a little longer, assert exactly them."""
        wanted = MATRIX[situation][self.column]
        arrived = self.sink.wait_for(lambda evs: wanted <= {e.kind for e in evs if e.path == path})
        time.sleep(QUIET[self.backend])
        seen = self.sink.for_path(path)
        assert arrived, f"{situation}: wanted {sorted(wanted)}, got {[e.kind for e in seen]}"
        assert {e.kind for e in seen} == wanted, f"{situation}: {[e.kind for e in seen]}"
        for event in seen:
            if event.kind not in ("delete_self", "move_self", "watch_removed"):
                assert (event.directory, event.name) == os.path.split(path)
        return seen

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            assert not self.watcher.alive()
        allowed = produces(self.column)
        extra = {e.kind for e in self.sink.snapshot()} - allowed
        assert not extra, f"{self.backend} reported kinds its column denies: {extra}"
        if self.watcher is not None and not self.expect_errors:
            assert self.watcher.errors == 0


def write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


@pytest.fixture(params=BACKENDS)
def harness(request, tmp_path):
    """A harness for each backend, stopped and checked against its matrix column afterwards."""
    h = Harness(request.param, str(tmp_path))
    yield h
    h.close()
