"""The shipped systemd unit: valid for systemd-analyze, and hardened."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from tests.realtools import require_tool

UNIT = os.path.join(os.path.dirname(__file__), "..", "..", "systemd", "maildrift.service")


def _installed_copy(tmp_path) -> str:
    """The unit with ExecStart pointing at this checkout's maildrift, so verify can run it."""
    executable = os.path.join(os.path.dirname(sys.executable), "maildrift")
    if not os.access(executable, os.X_OK):
        executable = shutil.which("maildrift") or executable
    with open(UNIT, encoding="utf-8") as handle:
        text = handle.read().replace("/usr/bin/maildrift", executable)
    target = tmp_path / "maildrift.service"
    target.write_text(text)
    return str(target)


def test_unit_verifies_cleanly(tmp_path):
    """systemd-analyze verify prints nothing (it exits 0 even for unknown settings)."""
    tool = require_tool("systemd-analyze")
    proc = subprocess.run(
        [tool, "verify", _installed_copy(tmp_path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr


def test_unit_is_notify_with_watchdog_and_reload():
    """Type=notify, a watchdog, and SIGHUP for reload (RHEL 9 has no notify-reload)."""
    with open(UNIT, encoding="utf-8") as handle:
        text = handle.read()
    assert re.search(r"^Type=notify$", text, re.M)
    assert re.search(r"^WatchdogSec=\d+", text, re.M)
    assert "ExecReload=/bin/kill -HUP $MAINPID" in text


def test_unit_exposure_is_low(tmp_path):
    """systemd-analyze security --offline scores the unit 2.5 or better."""
    tool = require_tool("systemd-analyze")
    proc = subprocess.run(
        [tool, "security", "--offline=yes", _installed_copy(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", proc.stdout)
    assert match, proc.stdout[-500:]
    assert float(match.group(1)) <= 2.5
