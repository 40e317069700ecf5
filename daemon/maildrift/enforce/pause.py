"""Pause: a state file that makes the daemon only observe until a given time.

``<state_dir>/pause.json`` (0600, replaced atomically) holds one record::

    {"action": "pause", "until": 1795862700.0, "reason": "migrating relays",
     "by_uid": 0, "by_loginuid": 1000, "created": 1795860900.0}

``maildrift resume`` replaces it with a record of action ``resume`` rather
than deleting it, so that the daemon, which watches this file, can log who
resumed and why.  A missing file, an expired pause and a resume record all
mean "not paused".  ``by_loginuid`` is the kernel's audit login uid, which
``sudo`` does not change: it names the admin behind a ``by_uid`` of 0.

The daemon reads the file with ``read_pause``, which never raises: a file it
cannot read or parse, or a pause that ends later than ``cap_s`` from now, is
ignored (enforcement continues) and reported as a problem.

>>> parse_duration("30m"), parse_duration("90s"), parse_duration("4h")
(1800, 90, 14400)
>>> format_duration(14400), format_duration(5400), format_duration(90)
('4h', '1h30m', '1m30s')
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from typing import NamedTuple

from maildrift.enforce.statedir import ensure_private_dir, write_private
from maildrift.errors import MaildriftError

__all__ = [
    "DEFAULT_PAUSE_CAP_S",
    "PauseError",
    "PauseReading",
    "PauseState",
    "clear_pause",
    "format_duration",
    "login_uid",
    "parse_duration",
    "pause_path",
    "read_pause",
    "write_pause",
]

DEFAULT_PAUSE_CAP_S = 4 * 3600
_DURATION = re.compile(r"([1-9][0-9]{0,6})([smh])")
_UNIT = {"s": 1, "m": 60, "h": 3600}
_MAX_FILE = 64 * 1024
_NO_LOGINUID = 4294967295  # (uid_t)-1: no login session, e.g. a system service


class PauseError(MaildriftError):
    """A duration, reason or pause that is refused, or a pause file that cannot be written."""


@dataclass(frozen=True)
class PauseState:
    """One pause (or resume) record; times are seconds since the epoch."""

    until_epoch: float
    reason: str
    by_uid: int
    created: float
    action: str = "pause"
    by_loginuid: int | None = None

    def to_json(self) -> dict:
        return {
            "action": self.action,
            "until": self.until_epoch,
            "reason": self.reason,
            "by_uid": self.by_uid,
            "by_loginuid": self.by_loginuid,
            "created": self.created,
        }


class PauseReading(NamedTuple):
    """What ``read_pause`` found.

    ``state`` is the pause in force (None: enforce); ``problem`` says why the
    file was ignored; ``record`` is what a valid file says, in force or not, for
    the log (a resume, an expired pause).
    """

    state: PauseState | None
    problem: str | None = None
    record: PauseState | None = None


def pause_path(state_dir: str) -> str:
    """The file the daemon watches."""
    return os.path.join(state_dir, "pause.json")


def parse_duration(text: str) -> int:
    """Seconds in ``90s``, ``30m`` or ``4h``; anything else is a PauseError."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise PauseError(
            f"--for takes a whole number and a unit, s, m or h (90s, 30m, 4h), not {text!r}"
        )
    return int(match.group(1)) * _UNIT[match.group(2)]


def format_duration(seconds: float) -> str:
    """``4h``, ``1h30m``, ``45s``: the units a pause is given in."""
    rest = max(0, math.ceil(seconds))
    parts = []
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def login_uid() -> int | None:
    """The audit login uid of this process, or None when it has none."""
    try:
        with open("/proc/self/loginuid", encoding="ascii") as handle:
            value = int(handle.read().strip())
    except (OSError, ValueError):
        return None
    return None if value == _NO_LOGINUID else value


def _is_uid(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _number(data: dict, key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{key} must be a number")
    return float(value)


def _parse(raw: bytes) -> PauseState:
    data = json.loads(raw.decode("utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    action = data.get("action", "pause")
    if action not in ("pause", "resume"):
        raise ValueError(f"unknown action {action!r}")
    reason, by_uid, loginuid = data.get("reason"), data.get("by_uid"), data.get("by_loginuid")
    if not isinstance(reason, str):
        raise ValueError("reason must be a string")
    if not _is_uid(by_uid) or not (loginuid is None or _is_uid(loginuid)):
        raise ValueError("by_uid and by_loginuid must be uids")
    until, created = _number(data, "until"), _number(data, "created")
    return PauseState(until, reason, by_uid, created, action, loginuid)


def read_pause(state_dir: str, now: float, cap_s: float | None = None) -> PauseReading:
    """The pause in force at ``now`` (epoch seconds), if any; never raises.

    With ``cap_s``, a pause that would last beyond ``now + cap_s`` (a file
    written by hand) is ignored and reported.
    """
    path = pause_path(state_dir)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            raw = handle.read(_MAX_FILE + 1)
    except FileNotFoundError:
        return PauseReading(None)
    except OSError as exc:
        return PauseReading(None, f"{path}: cannot read: {exc.strerror or exc}; not paused")
    if len(raw) > _MAX_FILE:
        return PauseReading(None, f"{path}: larger than {_MAX_FILE} bytes; not paused")
    try:
        record = _parse(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return PauseReading(None, f"{path}: malformed ({exc}); not paused")
    if record.action != "pause" or now >= record.until_epoch:
        return PauseReading(None, None, record)
    if cap_s is not None and record.until_epoch - now > cap_s:
        left = format_duration(record.until_epoch - now)
        problem = f"{path}: pause ends in {left}, beyond the cap of {format_duration(cap_s)}"
        return PauseReading(None, problem + "; not paused", record)
    return PauseReading(record, None, record)


def _write(state_dir: str, state: PauseState) -> str:
    path = pause_path(state_dir)
    data = (json.dumps(state.to_json(), indent=2) + "\n").encode("utf-8")
    try:
        ensure_private_dir(state_dir)
        write_private(path, data)
    except PermissionError:
        raise PauseError(
            f"cannot write {path}: permission denied; pause and resume need root"
            f" or write access to {state_dir}"
        ) from None
    except OSError as exc:
        raise PauseError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def write_pause(
    state_dir: str, seconds: float, reason: str, now: float, *, by_uid: int | None = None
) -> PauseState:
    """Pause enforcement for ``seconds`` from ``now``; replaces any earlier record."""
    state = PauseState(
        now + seconds,
        reason,
        os.getuid() if by_uid is None else by_uid,
        now,
        "pause",
        login_uid(),
    )
    _write(state_dir, state)
    return state


def clear_pause(
    state_dir: str, reason: str, now: float, *, by_uid: int | None = None
) -> PauseState:
    """End a pause: the file is replaced by a resume record (see the module docstring)."""
    state = PauseState(
        now, reason, os.getuid() if by_uid is None else by_uid, now, "resume", login_uid()
    )
    _write(state_dir, state)
    return state
