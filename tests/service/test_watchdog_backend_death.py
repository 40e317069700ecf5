"""End to end: a watcher backend killed from outside stops the WATCHDOG=1 pings.

The daemon runs as a subprocess with NOTIFY_SOCKET bound by the test and a
short WATCHDOG_USEC.  Its pyinotify thread is killed with a real fault, from
outside, without a hook in the product: ``prlimit(2)`` lowers the daemon's
RLIMIT_NOFILE to 1, and the next ``poll()`` of the notifier thread, which
polls two descriptors (inotify and its wake-up pipe), fails with EINVAL
(nfds above RLIMIT_NOFILE) and the thread dies.  The HTTP thread polls one
descriptor and lives on.

The limit must be back before the main loop notices the death, or the
restart would run under it and rightly fall back to polling.  So the daemon's
stdout is a pipe the test can fill: while it is full the main loop blocks on
its ``watcher_dead`` line, before it restarts anything.  The test waits for
the thread's traceback on stderr, restores the limit, then drains stdout.

A file name that is not UTF-8, which kills pyinotify's own notifier thread,
is checked first: it must not count as a dead backend.
"""

from __future__ import annotations

import contextlib
import os
import resource
import select
import subprocess
import sys
import threading
import time

import pytest

from tests.policy_samples.sampletree import Sample, build_tree
from tests.service.harness import DaemonProcess
from tests.service.test_daemon_lifecycle import NotifySocket

pytestmark = pytest.mark.services

WATCHDOG_USEC = 400_000  # pings every 0.2 s; systemd would act after 0.4 s of silence
DEATH = "OSError: [Errno 22] Invalid argument"  # the notifier's last traceback line


class GatedDaemon(DaemonProcess):
    """A daemon whose stdout the test can block, and whose stderr is kept apart."""

    def start(self) -> GatedDaemon:
        read_end, write_end = os.pipe()
        self._stdout = read_end
        # A second open file description of the pipe, non-blocking for the test
        # alone (O_NONBLOCK on the daemon's own description would reach it too).
        self._filler = os.open(f"/proc/self/fd/{write_end}", os.O_WRONLY | os.O_NONBLOCK)
        self._paused = threading.Lock()
        self._running = True
        self.err_path = self.log_path + ".stderr"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - the harness closes it
        self._sink = os.open(self.log_path, os.O_WRONLY | os.O_APPEND)
        argv = [sys.executable, "-m", "maildrift", "run", "--config", self.config_path]
        with open(self.err_path, "ab") as err:
            self.proc = subprocess.Popen(
                [*argv, "--root", self.root], stdout=write_end, stderr=err, env=self.env
            )
        os.close(write_end)
        self._reader = threading.Thread(target=self._copy, daemon=True)
        self._reader.start()
        self.wait_for(lambda series: series.get("maildrift_evaluations_total", 0) >= 1, 30)
        return self

    def _copy(self) -> None:
        # The test's filler keeps a write end open: no EOF, so stop() says when.
        while True:
            if not select.select([self._stdout], [], [], 0.05)[0]:
                if not self._running:
                    return
                continue
            with self._paused:
                data = os.read(self._stdout, 65536)
            os.write(self._sink, data.replace(b"\0", b""))

    @contextlib.contextmanager
    def stdout_blocked(self):
        """Every write the daemon makes to stdout blocks until the block ends."""
        with self._paused:
            with contextlib.suppress(BlockingIOError):
                while True:
                    os.write(self._filler, b"\0" * 65536)
            yield

    def stderr(self) -> str:
        with open(self.err_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def stop(self) -> int | None:
        try:
            return super().stop()  # the reader keeps copying, so "stopping" is not blocked
        finally:
            self._running = False
            self._reader.join(5)
            for fd in (self._stdout, self._filler, self._sink):
                os.close(fd)


def inotify_watches(pid: int) -> int:
    """The inotify watches the process holds, from /proc/PID/fdinfo."""
    total = 0
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/fdinfo/{fd}") as handle:
            total += handle.read().count("inotify wd:")
    return total


def wait_until(condition, what: str, daemon: GatedDaemon, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not seen in {seconds}s\n{daemon.log()[-3000:]}")
        time.sleep(0.01)


def kill_notifier(daemon: GatedDaemon, probe: str) -> None:
    """Kill the pyinotify thread with EINVAL from poll(); the limit is back before the loop acts."""
    pid = daemon.proc.pid
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    deaths = daemon.stderr().count(DEATH)
    with daemon.stdout_blocked():
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (1, hard))
        try:
            deadline = time.monotonic() + 10
            while daemon.stderr().count(DEATH) == deaths:
                # An event in a watched directory wakes the thread; its next poll() fails.
                with open(probe, "w", encoding="utf-8"):
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"the notifier did not die:\n{daemon.stderr()}")
                time.sleep(0.005)
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))


def pings_within(listener: NotifySocket, seconds: float) -> int:
    """WATCHDOG=1 datagrams sent from now on, for ``seconds``; older queued ones are dropped."""
    listener.sock.settimeout(0)
    with contextlib.suppress(BlockingIOError):
        while True:
            listener.sock.recv(4096)
    listener.sock.settimeout(0.2)
    listener.messages.clear()
    listener.drain(seconds)
    return sum("WATCHDOG=1" in m for m in listener.messages)


def test_pings_stop_when_the_backend_is_killed_until_the_restart_cap(tmp_path):
    """Killed four times: three restarts with pings back, then silence; the process lives on."""
    listener = NotifySocket(str(tmp_path / "notify.sock"))
    root = build_tree(Sample("demo"), str(tmp_path / "root"))
    daemon = GatedDaemon(
        root,
        str(tmp_path),
        env={"NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": str(WATCHDOG_USEC)},
    ).start()
    try:
        pid = daemon.proc.pid
        listener.wait_for("READY=1")
        assert pings_within(listener, 0.7) >= 2
        watches = inotify_watches(pid)
        assert watches >= 3, "the daemon should hold its directories on pyinotify"

        # pyinotify's own reader dies on this name; the product's must not.
        changes = daemon.log().count('"reason": "change"')
        bad = os.path.join(os.fsencode(root), b"etc/postfix/main.cf.\xff")
        with open(bad, "wb"):
            pass
        wait_until(lambda: daemon.log().count('"reason": "change"') > changes, "a judged", daemon)
        os.unlink(bad)
        assert pings_within(listener, 0.7) >= 2
        assert "watcher_dead" not in daemon.log() and "Traceback" not in daemon.stderr()

        # Outside the configuration roots: wakes the thread, judges nothing.
        probe = os.path.join(root, "etc", "maildrift-probe")
        for restart in (1, 2, 3):
            kill_notifier(daemon, probe)
            wait_until(
                lambda n=restart: daemon.log().count('"reason": "backend_dead"') == n,
                f"restart {restart}",
                daemon,
            )
            wait_until(lambda: inotify_watches(pid) == watches, "the watches back", daemon)
            assert pings_within(listener, 0.7) >= 2

        kill_notifier(daemon, probe)
        wait_until(lambda: "watcher_given_up" in daemon.log(), "watcher_given_up", daemon)
        assert pings_within(listener, 5 * WATCHDOG_USEC / 1e6) == 0, listener.messages
        assert daemon.proc.poll() is None, "the daemon must live on for systemd's WatchdogSec"
        series = daemon.scrape()
        assert series["maildrift_watch_healthy"] == 0.0
        assert series['maildrift_rescans_total{reason="backend_dead"}'] == 3.0
        log = daemon.log()
        assert log.count('"event": "watcher_dead"') == 3
        assert log.count('"event": "watcher_given_up"') == 1
        assert daemon.stderr().count(DEATH) == 4
    finally:
        daemon.stop()
