"""CommandRunner and Reloader with ordinary commands: outcomes, timeouts, group kill, env."""

from __future__ import annotations

import os
import time

import pytest

from maildrift.enforce.reload import (
    DEFAULT_RELOAD_COMMANDS,
    CommandResult,
    CommandRunner,
    Reloader,
    Validator,
    passed,
)


def live_group_members(group: int) -> list[int]:
    """Pids of processes in process group ``group`` that are not zombies."""
    members = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, pgrp = fields[0], int(fields[2])
        if pgrp == group and state not in ("Z", "X"):
            members.append(int(name))
    return members


def wait_until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_ok_and_failed_with_stderr_tail():
    """Exit 0 is ok; a non-zero exit is failed with its code and the stderr text kept."""
    runner = CommandRunner()
    assert runner.run(["true"], timeout_s=5).outcome == "ok"
    result = runner.run(["sh", "-c", "echo 'fatal: broken' >&2; exit 3"], timeout_s=5)
    assert (result.outcome, result.returncode) == ("failed", 3)
    assert result.stderr_tail == "fatal: broken"
    assert result.argv[0] == "sh"
    assert 0 <= result.duration_s < 5


def test_stderr_tail_is_bounded_and_starts_at_a_line():
    """Only the last tail_bytes of a chatty stderr are kept, cut at a line boundary."""
    script = "for i in $(seq 1 2000); do echo line-$i >&2; done"
    result = CommandRunner(tail_bytes=100).run(["sh", "-c", script], timeout_s=10)
    assert result.outcome == "ok"
    assert len(result.stderr_tail) <= 100
    assert result.stderr_tail.startswith("line-")
    assert result.stderr_tail.endswith("line-2000")


def test_missing_executable_is_failed_not_raised():
    """A command that cannot be started is outcome failed with the reason in error."""
    result = CommandRunner().run(["/nonexistent/maildrift-reload"], timeout_s=5)
    assert (result.outcome, result.returncode) == ("failed", None)
    assert "No such file" in result.error


@pytest.mark.parametrize("argv", [[], ["systemctl", 3], ["", "reload"], "systemctl reload x"])
def test_only_lists_of_strings_run(argv):
    """An empty list or program name, a non-string word, or a shell string is refused."""
    with pytest.raises(ValueError, match="non-empty list of strings"):
        CommandRunner().run(argv, timeout_s=1)
    with pytest.raises(ValueError, match="non-empty list of strings"):
        Reloader({"postfix": argv}, CommandRunner())


def test_timeout_kills_sleep():
    """sleep 10 with a 0.2 s timeout is outcome timeout within a second, and is gone."""
    start = time.monotonic()
    result = CommandRunner().run(["sleep", "10"], timeout_s=0.2)
    elapsed = time.monotonic() - start
    assert result.outcome == "timeout"
    assert result.returncode is not None and result.returncode < 0
    assert 0.2 <= result.duration_s < 1.5
    assert elapsed < 1.5
    assert "process group killed" in result.error


def test_timeout_kills_the_whole_group_even_when_term_is_ignored(tmp_path):
    """A shell that ignores SIGTERM and its background sleep both die by the SIGKILL."""
    pids = tmp_path / "pids"
    script = f'trap "" TERM; sleep 30 & echo $$ $! > {pids}; wait'
    result = CommandRunner(kill_grace_s=0.3).run(["sh", "-c", script], timeout_s=0.3)
    assert result.outcome == "timeout"
    assert result.returncode == -9
    assert 0.6 <= result.duration_s < 3
    leader, background = (int(p) for p in pids.read_text().split())
    # The background sleep was in the leader's group and is not reparented into safety.
    assert wait_until(lambda: live_group_members(leader) == [])
    assert not os.path.exists(f"/proc/{background}") or background not in live_group_members(leader)


def test_environment_is_scrubbed_of_systemd_variables():
    """env run as the command sees neither NOTIFY_SOCKET nor WATCHDOG_*, and keeps the rest."""
    base = {
        "PATH": os.environ["PATH"],
        "NOTIFY_SOCKET": "/run/systemd/notify",
        "WATCHDOG_USEC": "20000000",
        "WATCHDOG_PID": "1",
        "MAILDRIFT_KEEP": "yes",
    }
    result = CommandRunner(env=base, tail_bytes=65536).run(["sh", "-c", "env >&2"], 5)
    seen = dict(line.split("=", 1) for line in result.stderr_tail.splitlines() if "=" in line)
    assert seen["MAILDRIFT_KEEP"] == "yes"
    assert not {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"} & set(seen)


def test_default_environment_is_read_at_run_time(monkeypatch):
    """Without env=, the runner takes os.environ as it is when the command runs, scrubbed."""
    runner = CommandRunner(tail_bytes=65536)
    monkeypatch.setenv("NOTIFY_SOCKET", "/run/systemd/notify")
    monkeypatch.setenv("WATCHDOG_USEC", "1000")
    monkeypatch.setenv("MAILDRIFT_LATER", "1")
    result = runner.run(["sh", "-c", "env >&2"], 5)
    assert "MAILDRIFT_LATER=1" in result.stderr_tail
    assert "NOTIFY_SOCKET" not in result.stderr_tail
    assert "WATCHDOG_" not in result.stderr_tail


def test_stdin_is_devnull_and_cwd_is_root(tmp_path):
    """A command reading stdin gets EOF at once, and runs in /."""
    result = CommandRunner().run(["sh", "-c", "cat; pwd >&2"], timeout_s=5)
    assert (result.outcome, result.stderr_tail) == ("ok", "/")


class Recorder:
    """Collects what the Reloader and Validator report."""

    def __init__(self) -> None:
        self.seen: list[tuple] = []

    def __call__(self, *args) -> None:
        self.seen.append(args)


def test_reloader_runs_enabled_and_skips_disabled():
    """An enabled component runs its argv; a disabled one is skipped; both are observed."""
    observe = Recorder()
    reloader = Reloader(
        {"postfix": ["true"], "dovecot": ["false"]},
        CommandRunner(),
        {"postfix": True, "dovecot": False},
        observe=observe,
    )
    ok = reloader.reload("postfix", "postfix-out")
    skipped = reloader.reload("dovecot")
    assert ok.outcome == "ok"
    assert (skipped.outcome, skipped.error) == ("skipped", "reload of dovecot is disabled")
    assert observe.seen == [("postfix", "postfix-out", ok), ("dovecot", "", skipped)]


def test_reloader_without_command_or_unknown_component():
    """A component configured with no command is skipped; an unknown one is a ValueError."""
    reloader = Reloader({"postfix": None}, CommandRunner())
    assert reloader.reload("postfix").outcome == "skipped"
    with pytest.raises(ValueError, match="dovecot"):
        reloader.reload("dovecot")


def test_reloader_timeout_and_failure_outcomes():
    """A hanging reload is outcome timeout and a failing one failed."""
    reloader = Reloader(
        {"postfix": ["sleep", "10"], "dovecot": ["false"]}, CommandRunner(), timeout_s=0.2
    )
    assert reloader.reload("postfix").outcome == "timeout"
    assert reloader.reload("dovecot").outcome == "failed"


def test_default_reload_commands_use_systemctl_argv():
    """The defaults are argument lists for systemctl reload of each unit."""
    assert DEFAULT_RELOAD_COMMANDS == {
        "postfix": ("systemctl", "reload", "postfix.service"),
        "dovecot": ("systemctl", "reload", "dovecot.service"),
    }


def test_validator_skips_missing_tools():
    """A tool that is not installed gives outcome skipped, runs nothing, and still passes."""
    observe = Recorder()
    validator = Validator(CommandRunner(), which=lambda name: None, observe=observe)
    results = validator.validate(postfix_dir="/etc/postfix", dovecot_config="/x/dovecot.conf")
    assert {k: r.outcome for k, r in results.items()} == {
        "postfix": "skipped",
        "doveconf": "skipped",
    }
    assert results["postfix"].error == "postfix is not installed"
    assert [tool for tool, _ in observe.seen] == ["postfix", "doveconf"]
    assert passed(results)


def test_passed_only_when_nothing_failed_or_timed_out():
    """ok and skipped pass; failed or timeout anywhere does not."""

    def result(outcome):
        return CommandResult(outcome, None, 0.0)

    assert passed({"postfix": result("ok"), "doveconf": result("skipped")})
    assert not passed({"postfix": result("ok"), "doveconf": result("failed")})
    assert not passed({"postfix": result("timeout")})


def test_heartbeat_runs_while_a_slow_command_waits():
    """A command running for 2.5 s calls the heartbeat about once a second."""
    from maildrift.enforce.reload import CommandRunner

    beats = []
    result = CommandRunner(heartbeat=lambda: beats.append(1)).run(["sleep", "2.5"], 10)
    assert result.outcome == "ok"
    assert 2 <= len(beats) <= 3
