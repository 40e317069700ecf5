"""Running ``maildrift run`` as a subprocess on a temp tree, and scraping its endpoint."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

FACTS = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "policy_samples", "host-facts.yaml"
)
_SERIES = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DaemonProcess:
    """One daemon on a temp tree; always stopped by :meth:`stop`.

    With ``root=None`` no ``--root`` is passed: the daemon watches the
    directories that ``extra_config`` names (``postfix:``, ``dovecot:``).
    """

    def __init__(
        self,
        root: str | None,
        workdir: str,
        mode: str = "observe",
        extra_config: str = "",
        env: dict | None = None,
    ) -> None:
        self.root = root
        self.port = free_port()
        self.state_dir = os.path.join(workdir, "state")
        self.log_path = os.path.join(workdir, "daemon.log")
        self.config_path = os.path.join(workdir, "maildrift.yaml")
        with open(self.config_path, "w", encoding="utf-8") as handle:
            handle.write(
                f"policy_dir: null\nmode: {mode}\npostfix_version: '3.7'\nlog_format: json\n"
                f"host_facts: {FACTS}\nstate_dir: {self.state_dir}\n"
                f"metrics: {{listen: '127.0.0.1:{self.port}'}}\n{extra_config}"
            )
        self.env = dict(os.environ, **(env or {}))
        self.proc: subprocess.Popen | None = None

    def start(self) -> DaemonProcess:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "maildrift",
                "run",
                "--config",
                self.config_path,
                *(["--root", self.root] if self.root is not None else []),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
        )
        deadline = time.monotonic() + 30
        while '"event": "ready"' not in self.log():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"daemon not ready:\n{self.log()}")
            time.sleep(0.05)
        return self

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def scrape(self) -> dict:
        """Every series as ``name{labels}`` -> value, plus bare ``name`` totals."""
        url = f"http://127.0.0.1:{self.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        series: dict = {}
        for line in text.splitlines():
            match = _SERIES.match(line)
            if match:
                key = match.group(1) + (match.group(2) or "")
                series[key] = float(match.group(3))
                if not match.group(2):
                    series[match.group(1)] = float(match.group(3))
        return series

    def wait_for(self, predicate, timeout: float = 20.0) -> dict:
        """Scrape until ``predicate(series)`` holds; a generous deadline, not a speed test."""
        deadline = time.monotonic() + timeout
        last: dict = {}
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.log()}")
            try:
                last = self.scrape()
                if predicate(last):
                    return last
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"condition not reached in {timeout}s; log:\n{self.log()[-3000:]}")


def compliant(series: dict, rule: str, scope: str) -> float | None:
    for key, value in series.items():
        if (
            key.startswith("maildrift_rule_compliant{")
            and f'rule="{rule}"' in key
            and f'scope="{scope}"' in key
        ):
            return value
    return None
