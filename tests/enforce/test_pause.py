"""The pause file: durations, round trip, expiry, resume records, corruption, cap, privacy."""

from __future__ import annotations

import json
import os
import stat

import pytest

from maildrift.enforce.pause import (
    PauseError,
    PauseState,
    clear_pause,
    format_duration,
    parse_duration,
    pause_path,
    read_pause,
    write_pause,
)

NOW = 1_795_860_000.0


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("4h", 14400)])
def test_durations_in_s_m_h(text, seconds):
    """Whole numbers with s, m or h are seconds, minutes and hours."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["30", "30min", "1h30m", "1.5h", "0m", "-5m", " 5m", "5M", "", "m"]
)
def test_other_durations_are_refused_clearly(text):
    """Anything but <number><s|m|h> is a PauseError that names the accepted form."""
    with pytest.raises(PauseError, match=r"whole number and a unit, s, m or h \(90s, 30m, 4h\)"):
        parse_duration(text)


def test_format_duration_round_trips_the_units():
    """Durations print in the units they are given in."""
    assert [format_duration(s) for s in (14400, 1800, 90, 5400, 0, 0.2)] == [
        "4h",
        "30m",
        "1m30s",
        "1h30m",
        "0s",
        "1s",
    ]


def test_write_then_read_until_it_expires(tmp_path):
    """A written pause is in force until its end, then reads as not paused."""
    state_dir = str(tmp_path / "state")
    written = write_pause(state_dir, 1800, "migrating relays", NOW, by_uid=0)
    assert written == PauseState(
        NOW + 1800, "migrating relays", 0, NOW, "pause", written.by_loginuid
    )
    reading = read_pause(state_dir, NOW + 1799)
    assert (reading.state, reading.problem) == (written, None)
    expired = read_pause(state_dir, NOW + 1800)
    assert (expired.state, expired.problem, expired.record) == (None, None, written)


def test_state_file_is_private_and_atomic(tmp_path):
    """The state dir is 0700, pause.json 0600, and no temp file is left beside it."""
    state_dir = tmp_path / "state"
    write_pause(str(state_dir), 60, "x", NOW)
    assert stat.S_IMODE(os.stat(state_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(pause_path(str(state_dir))).st_mode) == 0o600
    assert os.listdir(state_dir) == ["pause.json"]
    data = json.loads((state_dir / "pause.json").read_text())
    assert (data["action"], data["until"], data["by_uid"]) == ("pause", NOW + 60, os.getuid())


def test_resume_record_means_not_paused_and_keeps_the_reason(tmp_path):
    """clear_pause leaves a resume record: not paused, with who and why for the log."""
    state_dir = str(tmp_path)
    write_pause(state_dir, 3600, "maintenance", NOW)
    clear_pause(state_dir, "maintenance done", NOW + 60, by_uid=0)
    reading = read_pause(state_dir, NOW + 61)
    assert reading.state is None and reading.problem is None
    assert (reading.record.action, reading.record.reason) == ("resume", "maintenance done")
    assert reading.record.created == NOW + 60


def test_missing_file_is_not_paused(tmp_path):
    """No pause file: not paused, no problem, no record."""
    assert tuple(read_pause(str(tmp_path), NOW)) == (None, None, None)


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"\xff\xfe binary",
        b"[1, 2]",
        b'{"until": "tomorrow", "reason": "x", "by_uid": 0, "created": 1}',
        b'{"until": 1e400, "reason": "x", "by_uid": 0, "created": 1}',
        b'{"until": 2e9, "reason": null, "by_uid": 0, "created": 1}',
        b'{"until": 2e9, "reason": "x", "by_uid": -1, "created": 1}',
        b'{"until": 2e9, "reason": "x", "by_uid": true, "created": 1}',
        b'{"until": 2e9, "reason": "x", "by_uid": 0}',
        b'{"action": "extend", "until": 2e9, "reason": "x", "by_uid": 0, "created": 1}',
        b"",
    ],
)
def test_corrupt_file_is_not_paused_and_reported(tmp_path, content):
    """A file that does not parse into a record is ignored with a problem, never raised."""
    (tmp_path / "pause.json").write_bytes(content)
    reading = read_pause(str(tmp_path), NOW)
    assert reading.state is None and reading.record is None
    assert reading.problem.startswith(f"{tmp_path}/pause.json: malformed (")
    assert reading.problem.endswith("; not paused")


def test_unreadable_paths_are_problems_not_exceptions(tmp_path):
    """A directory, a symlink or an oversized file at the path is reported, not followed or read."""
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "pause.json").mkdir()
    assert "cannot read" in read_pause(str(tmp_path / "dir"), NOW).problem
    target = tmp_path / "elsewhere.json"
    write_pause(str(tmp_path / "real"), 60, "x", NOW)
    target.write_bytes((tmp_path / "real" / "pause.json").read_bytes())
    (tmp_path / "link").mkdir()
    os.symlink(target, tmp_path / "link" / "pause.json")
    linked = read_pause(str(tmp_path / "link"), NOW)
    assert linked.state is None and "cannot read" in linked.problem
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "pause.json").write_bytes(b" " * 70000)
    assert "larger than" in read_pause(str(tmp_path / "big"), NOW).problem


def test_pause_beyond_the_cap_is_ignored_by_the_reader(tmp_path):
    """A hand-written pause ending later than now + cap is reported and not in force."""
    write_pause(str(tmp_path), 10 * 3600, "forever", NOW)
    reading = read_pause(str(tmp_path), NOW, cap_s=4 * 3600)
    assert reading.state is None
    assert "pause ends in 10h, beyond the cap of 4h; not paused" in reading.problem
    assert reading.record.reason == "forever"
    # Six hours later the same pause has four hours left and fits the cap.
    assert read_pause(str(tmp_path), NOW + 6 * 3600, cap_s=4 * 3600).state is not None


def test_write_failure_is_a_pause_error(tmp_path):
    """A state dir path that cannot be created gives a PauseError naming the file."""
    (tmp_path / "file").write_text("")
    with pytest.raises(PauseError, match=r"cannot write .*file/state/pause\.json"):
        write_pause(str(tmp_path / "file" / "state"), 60, "x", NOW)
