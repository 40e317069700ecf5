"""``maildrift pause`` and ``maildrift resume`` as subprocesses: files, messages, exit codes."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
import time

import pytest

from maildrift.enforce.pause import read_pause
from tests.realtools import require_tool


def maildrift(*args: str, prefix: tuple | list = ()) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "maildrift", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_refused(proc: subprocess.CompletedProcess, text: str) -> None:
    """Exit 2 with one line on stderr that says ``text``, and no traceback."""
    assert proc.returncode == 2, proc
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("maildrift: ") and text in proc.stderr, proc.stderr


def test_pause_then_resume(tmp_path):
    """pause writes a pause in force for 30 minutes; resume ends it with its reason."""
    state = str(tmp_path / "state")
    before = time.time()
    proc = maildrift("pause", "--for", "30m", "--reason", "relay migration", "--state-dir", state)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("enforcement paused until ")
    assert proc.stdout.rstrip().endswith("(30m): relay migration")
    reading = read_pause(state, time.time())
    assert reading.state.reason == "relay migration"
    assert before + 1800 <= reading.state.until_epoch <= time.time() + 1800
    assert reading.state.by_uid == os.getuid()
    resumed = maildrift("resume", "--reason", "done early", "--state-dir", state)
    assert (resumed.returncode, resumed.stdout) == (0, "enforcement resumed: done early\n")
    after = read_pause(state, time.time())
    assert after.state is None and after.record.action == "resume"
    assert after.record.reason == "done early"


def test_resume_when_not_paused_writes_nothing(tmp_path):
    """resume without a pause in force says so, exits 0 and creates no file."""
    proc = maildrift("resume", "--state-dir", str(tmp_path / "state"))
    assert (proc.returncode, proc.stdout) == (0, "enforcement is not paused; nothing to do\n")
    assert not (tmp_path / "state").exists()


def test_pause_longer_than_default_cap_is_refused(tmp_path):
    """Without --config the cap is 4 h: 5h is refused, 4h is accepted."""
    state = str(tmp_path / "state")
    refused = maildrift("pause", "--for", "5h", "--reason", "x", "--state-dir", state)
    assert_refused(refused, "a pause of 5h is longer than the cap of 4h")
    assert not (tmp_path / "state").exists()
    assert maildrift("pause", "--for", "4h", "--reason", "x", "--state-dir", state).returncode == 0


def test_cap_and_state_dir_come_from_the_config(tmp_path):
    """--config supplies enforce.pause_cap_s and state_dir."""
    state = tmp_path / "from-config"
    config = tmp_path / "maildrift.yaml"
    config.write_text(f"state_dir: {state}\nenforce:\n  pause_cap_s: 600\n")
    refused = maildrift("pause", "--for", "11m", "--reason", "x", "--config", str(config))
    assert_refused(refused, "a pause of 11m is longer than the cap of 10m")
    ok = maildrift("pause", "--for", "10m", "--reason", "x", "--config", str(config))
    assert ok.returncode == 0, ok.stderr
    assert json.loads((state / "pause.json").read_text())["reason"] == "x"


def test_broken_config_is_refused_with_file_and_line(tmp_path):
    """A config error is one line naming the file and line."""
    config = tmp_path / "maildrift.yaml"
    config.write_text("enforce:\n  pause_cap: 600\n")
    proc = maildrift("pause", "--for", "1m", "--reason", "x", "--config", str(config))
    assert_refused(proc, f"{config}:2: unknown key 'enforce.pause_cap'")


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--for", "30min", "--reason", "x"], "--for takes a whole number and a unit"),
        (["--for", "30m", "--reason", "  "], "--reason must say why"),
        (["--for", "30m", "--reason", "two\nlines"], "one line without control characters"),
        (["--for", "30m", "--reason", "x" * 501], "longer than 500 characters"),
    ],
)
def test_bad_durations_and_reasons_are_refused(tmp_path, args, text):
    """Bad --for or --reason values exit 2 with one clear line and write nothing."""
    proc = maildrift("pause", *args, "--state-dir", str(tmp_path / "state"))
    assert_refused(proc, text)
    assert not (tmp_path / "state").exists()


def test_missing_arguments_are_usage_errors(tmp_path):
    """pause without --for or --reason is an argparse usage error, exit 2."""
    proc = maildrift("pause", "--reason", "x", "--state-dir", str(tmp_path))
    assert proc.returncode == 2
    assert "the following arguments are required: --for" in proc.stderr


def without_capabilities() -> list[str]:
    """A setpriv prefix that drops every capability: uid 0 then has only owner rights.

    Running as another user is not possible here: the interpreter lives under /root.
    """
    if os.geteuid() != 0:
        pytest.skip("needs root to drop capabilities")
    return [require_tool("setpriv"), "--bounding-set=-all", "--inh-caps=-all"]


def test_no_write_access_is_a_clear_refusal(tmp_path):
    """Without root's capabilities and without write access, pause and resume exit 2, explained."""
    prefix = without_capabilities()
    state = tmp_path / "state"
    pause = ("pause", "--for", "1m", "--reason", "x", "--state-dir", str(state))
    assert maildrift(*pause).returncode == 0
    nobody = pwd.getpwnam("nobody")
    os.chown(state, nobody.pw_uid, nobody.pw_gid)  # 0700, someone else's
    before = (state / "pause.json").read_bytes()
    denied = "permission denied; pause and resume need root or write access to"
    assert_refused(maildrift(*pause, prefix=prefix), denied)
    # It cannot even read the pause; resume refuses to write rather than claim nothing was paused.
    assert_refused(maildrift("resume", "--state-dir", str(state), prefix=prefix), denied)
    assert (state / "pause.json").read_bytes() == before


def test_write_access_suffices_without_root_privileges(tmp_path):
    """With no capabilities at all, owning the state dir is enough to pause and resume."""
    prefix = without_capabilities()
    state = str(tmp_path / "state")
    proc = maildrift("pause", "--for", "1m", "--reason", "x", "--state-dir", state, prefix=prefix)
    assert proc.returncode == 0, proc.stderr
    assert maildrift("resume", "--state-dir", state, prefix=prefix).returncode == 0
    assert read_pause(state, time.time()).record.action == "resume"
