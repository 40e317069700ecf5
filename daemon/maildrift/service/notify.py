"""systemd notification: READY, STATUS, WATCHDOG, RELOADING and STOPPING.

The socket address is taken from the environment once, at construction, and
the variables are then removed so that no child (a reload command, postfix
check) inherits NOTIFY_SOCKET or WATCHDOG_*.
"""

from __future__ import annotations

import os
import time

import sdnotify

__all__ = ["Notifier"]


class Notifier:
    """Sends sd_notify datagrams; does nothing when not run by systemd."""

    def __init__(self) -> None:
        env = os.environ
        self.address = env.get("NOTIFY_SOCKET")
        # sdnotify connects in its constructor, from os.environ: build it before the pop.
        self._notifier = sdnotify.SystemdNotifier() if self.address else None
        env.pop("NOTIFY_SOCKET", None)
        usec = env.pop("WATCHDOG_USEC", None)
        pid = env.pop("WATCHDOG_PID", None)
        self.watchdog_usec = int(usec) if usec and usec.isdigit() else 0
        if pid and pid.isdigit() and int(pid) != os.getpid():
            self.watchdog_usec = 0

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between WATCHDOG=1 pings: half of WATCHDOG_USEC."""
        return self.watchdog_usec / 2e6 if self.watchdog_usec else None

    def send(self, *fields: str) -> None:
        if self._notifier is not None:
            # sdnotify swallows send errors: notification is best effort.
            self._notifier.notify("\n".join(fields))

    def ready(self, status: str) -> None:
        self.send("READY=1", f"STATUS={status}")

    def status(self, status: str) -> None:
        self.send(f"STATUS={status}")

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")

    def reloading(self) -> None:
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.send("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self) -> None:
        self.send("STOPPING=1")
