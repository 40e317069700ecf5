"""The daemon's talk with systemd, SIGHUP and SIGTERM, overflow and restarts."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time

import pytest

from tests.policy_samples.sampletree import Sample, build_tree
from tests.service.harness import DaemonProcess, compliant

pytestmark = pytest.mark.services
GOOD_POLICY = "rules:\n  - id: postfix-queue-minfree\n    severity: medium\n"
BROKEN_POLICY = "rules:\n  - id: postfix-queue-minfree\n    severty: medium\n"


class NotifySocket:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.messages: list[str] = []

    def drain(self, seconds: float) -> list[str]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(socket.timeout):
                self.messages.append(self.sock.recv(4096).decode())
        return self.messages

    def wait_for(self, text: str, seconds: float = 20.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(text in m for m in self.messages):
                return
            self.drain(0.2)
        raise AssertionError(f"no {text!r} in {self.messages}")


@pytest.fixture
def notify(tmp_path):
    """A notify socket and a daemon started with NOTIFY_SOCKET and WATCHDOG_USEC."""
    listener = NotifySocket(str(tmp_path / "notify.sock"))
    root = build_tree(Sample("demo"), str(tmp_path / "root"))
    policy = tmp_path / "site.yaml"
    policy.write_text(GOOD_POLICY)
    daemon = DaemonProcess(
        root,
        str(tmp_path),
        extra_config=f"policies: [{policy}]\n",
        env={"NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "400000"},
    )
    daemon.start()
    yield daemon, listener, policy
    daemon.stop()


def test_ready_after_first_evaluation_with_status(notify):
    """READY=1 arrives with a one-line STATUS, then WATCHDOG=1 pings at half the interval."""
    _daemon, listener, _ = notify
    listener.wait_for("READY=1")
    ready = next(m for m in listener.messages if "READY=1" in m)
    assert "STATUS=" in ready and "rules pass" in ready and "\n" in ready
    before = sum("WATCHDOG=1" in m for m in listener.messages)
    listener.drain(1.5)
    assert sum("WATCHDOG=1" in m for m in listener.messages) - before >= 3


def test_sighup_with_broken_policy_keeps_the_old_one(notify):
    """SIGHUP sends RELOADING=1 with MONOTONIC_USEC then READY=1; a broken policy is refused."""
    daemon, listener, policy = notify
    listener.wait_for("READY=1")
    policy.write_text(BROKEN_POLICY)
    listener.messages.clear()
    daemon.proc.send_signal(signal.SIGHUP)
    listener.wait_for("READY=1")
    reloading = next(m for m in listener.messages if "RELOADING=1" in m)
    assert "MONOTONIC_USEC=" in reloading
    assert listener.messages.index(reloading) < next(
        i for i, m in enumerate(listener.messages) if "READY=1" in m
    )
    series = daemon.wait_for(
        lambda m: m.get('maildrift_config_reloads_total{outcome="failed"}') == 1.0
    )
    assert series["maildrift_policy_load_success"] == 0.0
    assert compliant(series, "postfix-queue-minfree", "postfix:main") == 1.0
    assert "reload_failed" in daemon.log() and "severty" in daemon.log()


def test_sigterm_sends_stopping_and_exits_cleanly(notify):
    """SIGTERM: STOPPING=1, exit code 0."""
    daemon, listener, _ = notify
    listener.wait_for("READY=1")
    assert daemon.stop() == 0
    listener.wait_for("STOPPING=1", 5)


def test_children_do_not_inherit_notify_socket(tmp_path, monkeypatch):
    """After the Notifier takes them, NOTIFY_SOCKET and WATCHDOG_* are gone for children."""
    import subprocess
    import sys

    from maildrift.service.notify import Notifier

    listener = NotifySocket(str(tmp_path / "n.sock"))
    monkeypatch.setenv("NOTIFY_SOCKET", listener.path)
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    notifier = Notifier()
    assert notifier.watchdog_interval == 1.0
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(sorted(os.environ))"],
        capture_output=True,
        text=True,
        check=True,
    )
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        assert name not in child.stdout
    notifier.status("still talking")
    listener.wait_for("STATUS=still talking", 5)


def test_overflow_is_rescanned_and_final_state_judged(tmp_path):
    """SIGSTOP, more events than max_queued_events, SIGCONT: a rescan, and the right verdict."""
    root = build_tree(Sample("demo"), str(tmp_path / "root"))
    daemon = DaemonProcess(root, str(tmp_path)).start()
    try:
        with open("/proc/sys/fs/inotify/max_queued_events", encoding="utf-8") as handle:
            limit = int(handle.read())
        directory = os.path.join(root, "etc/postfix")
        daemon.proc.send_signal(signal.SIGSTOP)
        try:
            for index in range(limit // 2 + 100):
                path = os.path.join(directory, f"churn.{index}")
                with open(path, "w", encoding="utf-8"):
                    pass
                os.unlink(path)
            main_cf = os.path.join(directory, "main.cf")
            with open(main_cf, encoding="utf-8") as handle:
                text = handle.read().replace("    noplaintext\n", "    mutual_auth\n")
            with open(main_cf, "w", encoding="utf-8") as handle:
                handle.write(text)
        finally:
            daemon.proc.send_signal(signal.SIGCONT)
        daemon.wait_for(
            lambda m: (
                compliant(m, "postfix-sasl-security-options", "postfix:submission/inet") == 0.0
            ),
            60,
        )
        daemon.wait_for(lambda m: m.get('maildrift_rescans_total{reason="overflow"}', 0) >= 1, 30)
    finally:
        daemon.stop()


def test_changes_while_down_count_as_drift(tmp_path):
    """An unsafe edit made while the daemon was stopped is judged at start as drift."""
    root = build_tree(Sample("demo"), str(tmp_path / "root"))
    first = DaemonProcess(root, str(tmp_path)).start()
    first.stop()
    main_cf = os.path.join(root, "etc/postfix/main.cf")
    with open(main_cf, encoding="utf-8") as handle:
        text = handle.read().replace("    noplaintext\n", "    mutual_auth\n")
    with open(main_cf, "w", encoding="utf-8") as handle:
        handle.write(text)
    second = DaemonProcess(root, str(tmp_path)).start()
    try:
        series = second.wait_for(
            lambda m: any(
                k.startswith("maildrift_drift_events_total{") and v >= 1 for k, v in m.items()
            )
        )
        assert compliant(series, "postfix-sasl-security-options", "postfix:submission/inet") == 0
    finally:
        second.stop()
