"""``maildrift run --mode enforce`` as a subprocess: reverts, quarantine, pause, dry-run."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.service.harness import DaemonProcess

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(TOP, "demo")
# Reloads are recorded by a command that appends its argv to a file.
RECORDER = "import sys; open(sys.argv[1], 'a').write(' '.join(sys.argv[2:]) + chr(10))"


@pytest.fixture
def tree(tmp_path):
    root = str(tmp_path / "root")
    shutil.copytree(DEMO, root)
    for secret in ("etc/pki/tls/private/postfix.key", "etc/pki/dovecot/private/dovecot.pem"):
        os.chmod(os.path.join(root, secret), 0o600)
    return root


def _daemon(tree, tmp_path, mode="enforce"):
    reloads = str(tmp_path / "reloads.txt")
    extra = (
        "enforce:\n  validate: false\n  reload_commands:\n"
        f'    postfix: [{sys.executable}, -c, "{RECORDER}", {reloads}, postfix]\n'
        f'    dovecot: [{sys.executable}, -c, "{RECORDER}", {reloads}, dovecot]\n'
    )
    return DaemonProcess(tree, str(tmp_path), mode=mode, extra_config=extra), reloads


def _reverts(series: dict, outcome: str) -> float:
    return sum(
        v
        for k, v in series.items()
        if k.startswith("maildrift_reverts_total{") and f'outcome="{outcome}"' in k
    )


def _loosen(tree: str) -> str:
    main = os.path.join(tree, "etc/postfix/main.cf")
    with open(main, encoding="utf-8") as handle:
        safe = handle.read()
    unsafe = safe.replace("    noplaintext\n", "    mutual_auth\n")
    unsafe = unsafe.replace("myhostname = mail.example.com", "myhostname = mx9.example.com")
    assert unsafe.count("mx9") == 1 and "noplaintext" not in unsafe
    with open(main, "w", encoding="utf-8") as handle:
        handle.write(unsafe)
    return main


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _maildrift(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "maildrift", *args], capture_output=True, text=True, timeout=30
    )


def test_unsafe_edit_is_put_back_and_quarantined(tree, tmp_path):
    """noplaintext comes back within the deadline, the new myhostname stays, postfix reloads."""
    daemon, reloads = _daemon(tree, tmp_path)
    daemon.start()
    try:
        main = _loosen(tree)
        daemon.wait_for(lambda s: _reverts(s, "surgical") >= 1)
        text = _read(main)
        assert "noplaintext" in text and "myhostname = mx9.example.com" in text
        assert _read(reloads).splitlines() == ["postfix"]
        listing = _maildrift("quarantine", "list", "--state-dir", daemon.state_dir)
        assert listing.returncode == 0 and "/etc/postfix/main.cf" in listing.stdout
        series = daemon.wait_for(lambda s: s.get("maildrift_unsafe_window_seconds_count", 0) >= 1)
        assert series["maildrift_unsafe_window_seconds_count"] >= 1
        # maildrift's own write is not a new configuration change.
        time.sleep(0.3)
        assert '"reason": "own_write"' in daemon.log()
    finally:
        assert daemon.stop() == 0


def test_dry_run_only_says_so(tree, tmp_path):
    """dry-run counts and logs the revert it would make and leaves the admin's save alone."""
    daemon, reloads = _daemon(tree, tmp_path, mode="dry-run")
    daemon.start()
    try:
        main = _loosen(tree)
        daemon.wait_for(lambda s: _reverts(s, "dry_run") >= 1)
        assert "mutual_auth" in _read(main)
        assert '"event": "would_revert"' in daemon.log()
        assert not os.path.exists(reloads)
    finally:
        assert daemon.stop() == 0


def test_pause_observes_and_resume_enforces_again(tree, tmp_path):
    """While paused nothing is put back and the metric says so; the log names the reason."""
    daemon, _ = _daemon(tree, tmp_path)
    daemon.start()
    try:
        paused = _maildrift(
            "pause", "--for", "30m", "--reason", "planned change", "--state-dir", daemon.state_dir
        )
        assert paused.returncode == 0, paused.stderr
        daemon.wait_for(lambda s: s.get("maildrift_enforcement_paused") == 1)
        main = _loosen(tree)
        daemon.wait_for(lambda s: s.get("maildrift_rules", 1) is not None and _failing(s))
        time.sleep(0.5)
        assert "mutual_auth" in _read(main)
        assert any(
            e.get("event") == "enforcement_paused" and e.get("reason") == "planned change"
            for e in _events(daemon.log())
        )
        resumed = _maildrift("resume", "--reason", "done", "--state-dir", daemon.state_dir)
        assert resumed.returncode == 0, resumed.stderr
        daemon.wait_for(lambda s: s.get("maildrift_enforcement_paused") == 0)
        assert any(e.get("event") == "enforcement_resumed" for e in _events(daemon.log()))
    finally:
        assert daemon.stop() == 0


def _failing(series: dict) -> bool:
    return any(
        k.startswith("maildrift_rule_compliant{") and "sasl-security-options" in k and v == 0
        for k, v in series.items()
    )


def _events(log: str) -> list[dict]:
    found = []
    for line in log.splitlines():
        if "{" in line:
            with contextlib.suppress(ValueError):
                found.append(json.loads(line[line.index("{") :]))
    return found
