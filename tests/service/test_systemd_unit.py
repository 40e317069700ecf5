"""The shipped systemd unit: valid for systemd-analyze, and hardened."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from tests.realtools import require_tool

UNIT = os.path.join(os.path.dirname(__file__), "..", "..", "systemd", "maildrift.service")
ENFORCE = os.path.join(os.path.dirname(UNIT), "enforce.conf")


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


def _with_enforce_dropin(tmp_path) -> str:
    """The unit with the enforce drop-in's [Service] lines appended, as systemd merges them."""
    path = _installed_copy(tmp_path)
    with open(ENFORCE, encoding="utf-8") as handle:
        lines = [line for line in handle if line.strip() and not line.startswith(("#", "["))]
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    text = text.replace("[Install]", "".join(lines) + "\n[Install]")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def test_enforce_dropin_opens_only_the_config_directories(tmp_path):
    """The enforce drop-in verifies cleanly, writes only the two config directories, and the
    unit stays at exposure 2.5 or better."""
    tool = require_tool("systemd-analyze")
    unit = _with_enforce_dropin(tmp_path)
    with open(unit, encoding="utf-8") as handle:
        text = handle.read()
    assert re.findall(r"^ReadWritePaths=(.*)$", text, re.M) == [
        "/var/lib/maildrift",
        "/etc/postfix /etc/dovecot",
    ]
    proc = subprocess.run([tool, "verify", unit], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr
    proc = subprocess.run(
        [tool, "security", "--offline=yes", unit], capture_output=True, text=True, check=False
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", proc.stdout)
    assert match, proc.stdout[-500:]
    assert float(match.group(1)) <= 2.5
