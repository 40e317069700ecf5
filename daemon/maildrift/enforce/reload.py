"""Validation and reload commands: argument lists, no shell, a timeout, a scrubbed environment.

Every command is an argument list from the daemon config or from this
module, never text from a watched file, and runs without a shell.  The child
gets stdin from /dev/null, cwd ``/``, no stdout (``doveconf -n`` prints the
whole configuration), and the daemon's environment without ``NOTIFY_SOCKET``
and ``WATCHDOG_*``: a child that saw them could report readiness or watchdog
pings in the daemon's name.  The last bytes of stderr are kept for the log.

Each child leads a session and process group of its own.  On timeout the
whole group gets SIGTERM, then SIGKILL after a grace period, so a helper the
command started (``systemctl`` waiting on a job, a script's ``sleep``) dies too.

>>> runner = CommandRunner()
>>> ok = runner.run(["true"], timeout_s=5)
>>> ok.outcome, ok.returncode
('ok', 0)
>>> runner.run(["false"], timeout_s=5).outcome
'failed'
>>> Reloader({"postfix": ["true"]}, runner, {"postfix": False}).reload("postfix").outcome
'skipped'
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Callable

__all__ = [
    "COMPONENTS",
    "DEFAULT_RELOAD_COMMANDS",
    "CommandResult",
    "CommandRunner",
    "Reloader",
    "Validator",
    "child_env",
    "doveconf_check_argv",
    "find_tool",
    "passed",
    "postfix_check_argv",
]

COMPONENTS = ("postfix", "dovecot")
DEFAULT_RELOAD_COMMANDS: Mapping[str, tuple[str, ...]] = {
    "postfix": ("systemctl", "reload", "postfix.service"),
    "dovecot": ("systemctl", "reload", "dovecot.service"),
}
_TAIL_BYTES = 2048


def child_env(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` without the systemd notification variables.

    >>> child_env({"PATH": "/usr/bin", "NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "1"})
    {'PATH': '/usr/bin'}
    """
    return {k: v for k, v in base.items() if k != "NOTIFY_SOCKET" and not k.startswith("WATCHDOG_")}


def find_tool(name: str) -> str | None:
    """Absolute path of an executable; /usr/sbin and /usr/bin count even when PATH lacks them."""
    if "/" in name:
        return name if os.access(name, os.X_OK) else None
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )


def postfix_check_argv(config_dir: str) -> list[str]:
    """``postfix -c DIR check``."""
    return ["postfix", "-c", config_dir, "check"]


def doveconf_check_argv(config_file: str) -> list[str]:
    """``doveconf -c FILE -n``: parses the whole configuration, includes too."""
    return ["doveconf", "-c", config_file, "-n"]


@dataclass(frozen=True)
class CommandResult:
    """One command run.

    ``outcome`` is ``ok`` (exit 0), ``failed`` (non-zero exit, killed by a
    signal, or could not be started), ``timeout`` or ``skipped`` (disabled,
    or the validation tool is not installed).  ``error`` says why a command
    did not run or was skipped; ``returncode`` is negative for a signal.
    """

    outcome: str
    returncode: int | None
    duration_s: float
    stderr_tail: str = ""
    argv: tuple[str, ...] = ()
    error: str = ""


def _argv(value: Sequence[str]) -> tuple[str, ...]:
    # A str is a Sequence of one-letter strings: "systemctl reload x" would run "s".
    words = () if isinstance(value, (str, bytes)) else tuple(value)
    if not words or not words[0] or not all(isinstance(w, str) for w in words):
        raise ValueError(f"a command is a non-empty list of strings, not {value!r}")
    return words


def _skipped(argv: Sequence[str], why: str) -> CommandResult:
    return CommandResult("skipped", None, 0.0, argv=tuple(argv), error=why)


def passed(results: Mapping[str, CommandResult]) -> bool:
    """True when no validation failed or timed out (a missing tool is no objection)."""
    return all(r.outcome in ("ok", "skipped") for r in results.values())


class CommandRunner:
    """Runs one argument list with a timeout; see the module docstring for the child's setup."""

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        kill_grace_s: float = 1.0,
        tail_bytes: int = _TAIL_BYTES,
        heartbeat: Callable[[], None] | None = None,
    ) -> None:
        # Called about once a second while a command runs: the daemon's watchdog
        # ping must not stop because a reload is slow.
        self._heartbeat = heartbeat
        self._env = env
        self._clock = clock
        self.kill_grace_s = kill_grace_s
        self.tail_bytes = tail_bytes

    def run(self, argv: Sequence[str], timeout_s: float) -> CommandResult:
        argv = _argv(argv)
        # Read at run time: the Notifier removes NOTIFY_SOCKET from os.environ at start-up.
        env = child_env(os.environ if self._env is None else self._env)
        start = self._clock()
        # A file, not a pipe: a chatty child can never block on a full pipe, and only
        # the tail is read back.
        with tempfile.TemporaryFile() as stderr:
            try:
                proc = subprocess.Popen(
                    list(argv),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    env=env,
                    cwd="/",
                    close_fds=True,
                    start_new_session=True,
                )
            except OSError as exc:
                error = f"{argv[0]}: {exc.strerror or exc}"
                return CommandResult("failed", None, self._clock() - start, "", argv, error)
            error = ""
            try:
                returncode = self._wait(proc, start, timeout_s)
                outcome = "ok" if returncode == 0 else "failed"
            except subprocess.TimeoutExpired:
                outcome = "timeout"
                error = f"no exit within {timeout_s:g} s; process group killed"
                if not self._kill_group(proc):
                    error += "; the command did not exit after SIGKILL"
                returncode = proc.returncode
            except BaseException:
                self._kill_group(proc)
                raise
            duration = self._clock() - start
            tail = _tail(stderr, self.tail_bytes)
        return CommandResult(outcome, returncode, duration, tail, argv, error)

    def _wait(self, proc: subprocess.Popen, start: float, timeout_s: float) -> int:
        if self._heartbeat is None:
            return proc.wait(timeout=timeout_s)
        while True:
            left = timeout_s - (self._clock() - start)
            try:
                return proc.wait(timeout=max(0.0, min(1.0, left)))
            except subprocess.TimeoutExpired:
                if left <= 1.0:
                    raise
                self._heartbeat()

    def _kill_group(self, proc: subprocess.Popen) -> bool:
        """SIGTERM the child's process group, SIGKILL after the grace period; True once reaped."""
        group = proc.pid  # start_new_session: the child leads its own group
        _signal_group(group, signal.SIGTERM)
        deadline = time.monotonic() + self.kill_grace_s
        # WNOWAIT leaves an exited leader a zombie until the SIGKILL below: while it
        # is not reaped, its pid (the group id) cannot be given to another process.
        while time.monotonic() < deadline and not _exited(proc.pid):
            time.sleep(0.01)
        _signal_group(group, signal.SIGKILL)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # stuck in the kernel (D state): do not hang
            return False
        return True


def _exited(pid: int) -> bool:
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signum)


def _tail(handle: IO[bytes], limit: int) -> str:
    size = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, size - limit))
    data = handle.read()
    if size > limit:
        # Start at a line boundary rather than in the middle of a message.
        data = data.partition(b"\n")[2] or data
    return data.decode("utf-8", "replace").strip()


class Reloader:
    """Reloads a component with its configured command, or reports it ``skipped``.

    ``commands`` maps each component to an argument list (None: no command);
    ``enabled`` maps components to the config's reload flags (missing: enabled).
    ``observe(component, instance, result)`` receives every result, skipped ones too.
    """

    def __init__(
        self,
        commands: Mapping[str, Sequence[str] | None],
        runner: CommandRunner,
        enabled: Mapping[str, bool] | None = None,
        *,
        timeout_s: float = 30,
        observe: Callable[[str, str, CommandResult], None] | None = None,
    ) -> None:
        self._commands = {k: None if v is None else _argv(v) for k, v in commands.items()}
        self._runner = runner
        self._enabled = dict(enabled or {})
        self.timeout_s = timeout_s
        self._observe = observe

    def reload(self, component: str, instance: str = "") -> CommandResult:
        if component not in self._commands:
            raise ValueError(f"no reload command for component {component!r}")
        argv = self._commands[component]
        if argv is None:
            result = _skipped((), f"no reload command for {component}")
        elif not self._enabled.get(component, True):
            result = _skipped(argv, f"reload of {component} is disabled")
        else:
            result = self._runner.run(argv, self.timeout_s)
        if self._observe is not None:
            self._observe(component, instance, result)
        return result


class Validator:
    """Checks a written configuration with the real tools, where they are installed.

    The argv factories build the command for a config directory (Postfix) or
    file (Dovecot); their first word is looked up with ``find_tool`` and a
    missing tool gives outcome ``skipped``, never an error.  Results are keyed
    by tool, ``postfix`` and ``doveconf``, which are also the metric labels;
    ``observe(tool, result)`` receives every result.
    """

    def __init__(
        self,
        runner: CommandRunner,
        postfix_argv_for: Callable[[str], Sequence[str]] = postfix_check_argv,
        doveconf_argv_for: Callable[[str], Sequence[str]] = doveconf_check_argv,
        *,
        timeout_s: float = 10,
        observe: Callable[[str, CommandResult], None] | None = None,
        which: Callable[[str], str | None] = find_tool,
    ) -> None:
        self._runner = runner
        self._argv_for = {"postfix": postfix_argv_for, "doveconf": doveconf_argv_for}
        self.timeout_s = timeout_s
        self._observe = observe
        self._which = which

    def validate(
        self, postfix_dir: str | None = None, dovecot_config: str | None = None
    ) -> dict[str, CommandResult]:
        """Run the check for each target given; a dict keyed by tool."""
        results = {}
        if postfix_dir is not None:
            results["postfix"] = self.check("postfix", postfix_dir)
        if dovecot_config is not None:
            results["doveconf"] = self.check("doveconf", dovecot_config)
        return results

    def check(self, tool: str, target: str) -> CommandResult:
        argv = list(self._argv_for[tool](target))
        path = self._which(argv[0])
        if path is None:
            result = _skipped(argv, f"{argv[0]} is not installed")
        else:
            result = self._runner.run([path, *argv[1:]], self.timeout_s)
        if self._observe is not None:
            self._observe(tool, result)
        return result
