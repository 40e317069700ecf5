"""WATCHDOG=1 pings only while the watcher is alive; a watcher that keeps dying stops them."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from maildrift.service.config import DaemonConfig
from maildrift.service.daemon import Daemon, DaemonDeps
from maildrift.service.metrics import Metrics


class FakeWatcher:
    backend = "pyinotify"

    def __init__(self, alive: bool) -> None:
        self._alive = alive

    def alive(self) -> bool:
        return self._alive

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def directories(self):
        return []


class FakeNotifier:
    watchdog_interval = 1.0

    def __init__(self) -> None:
        self.pings = 0

    def watchdog(self) -> None:
        self.pings += 1


class FakeLog:
    def __init__(self) -> None:
        self.events: list[str] = []

    def error(self, event, **_):
        self.events.append(event)

    warning = info = error


def _daemon(watchers: list[FakeWatcher]):
    clock = {"now": 10**12}
    notifier, log = FakeNotifier(), FakeLog()
    deps = DaemonDeps(
        config=DaemonConfig(rescan_interval_s=10**6),
        load_policy=None,
        load_waivers=None,
        load_mail=None,
        make_watcher=lambda sink: watchers.pop(0),
        host_path=str,
        metrics=Metrics(CollectorRegistry()),
        notifier=notifier,
        log=log,
        clock_ns=lambda: clock["now"],
    )
    daemon = Daemon(deps)
    daemon.evaluate = lambda *args, **kwargs: None
    daemon.last_rescan_ns = clock["now"]
    return daemon, clock, notifier, log


def test_pings_while_alive_only():
    """An alive watcher gets a ping per interval; a dead one is restarted first."""
    daemon, clock, notifier, _ = _daemon([FakeWatcher(True)])
    daemon.watcher = FakeWatcher(True)
    for _ in range(3):
        clock["now"] += 10**9
        daemon._tick()
    assert notifier.pings == 3


def test_pings_stop_when_the_watcher_keeps_dying():
    """After three restarts in ten minutes the daemon gives up and pings no more."""
    dead = [FakeWatcher(False) for _ in range(5)]
    daemon, clock, notifier, log = _daemon(dead)
    daemon.watcher = FakeWatcher(False)
    for _ in range(8):
        clock["now"] += 10**9
        daemon._tick()
    assert notifier.pings == 0
    assert log.events.count("watcher_dead") == 3
    assert "watcher_given_up" in log.events
    assert len(dead) == 2
