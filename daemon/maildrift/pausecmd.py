"""``maildrift pause --for DURATION --reason TEXT`` and ``maildrift resume``.

Both write ``<state_dir>/pause.json``, which the daemon watches; while a
pause is in force it only observes.  Exit codes: 0 done (also a resume when
nothing was paused); 2 a bad duration or reason, a pause longer than the
cap, a config that cannot be read, or no permission to write the state dir.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Callable

__all__ = ["add_pause_arguments", "add_resume_arguments", "run_pause"]

_MAX_REASON = 500


def _state_dir_argument(parser) -> None:
    parser.add_argument(
        "--state-dir", metavar="DIR", help="default: the config's state_dir, /var/lib/maildrift"
    )


def add_pause_arguments(parser) -> None:
    parser.add_argument(
        "--for",
        dest="duration",
        metavar="DURATION",
        required=True,
        help="how long: a whole number and s, m or h (90s, 30m, 4h)",
    )
    parser.add_argument("--reason", metavar="TEXT", required=True, help="why; it is logged")
    _state_dir_argument(parser)
    parser.add_argument(
        "--config", metavar="FILE", help="daemon config for state_dir and enforce.pause_cap_s"
    )


def add_resume_arguments(parser) -> None:
    parser.add_argument("--reason", metavar="TEXT", default="", help="why; it is logged")
    _state_dir_argument(parser)


def _reason(text: str, required: bool) -> str:
    from maildrift.enforce.pause import PauseError

    reason = text.strip()
    if required and not reason:
        raise PauseError("--reason must say why enforcement is paused")
    if len(reason) > _MAX_REASON:
        raise PauseError(f"--reason is longer than {_MAX_REASON} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in reason):
        raise PauseError("--reason must be one line without control characters")
    return reason


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pause(args, now: float) -> int:
    from maildrift.enforce.pause import (
        DEFAULT_PAUSE_CAP_S,
        PauseError,
        format_duration,
        parse_duration,
        write_pause,
    )
    from maildrift.service.config import DaemonConfig, load_daemon_config

    seconds = parse_duration(args.duration)
    reason = _reason(args.reason, required=True)
    cap, state_dir = DEFAULT_PAUSE_CAP_S, DaemonConfig().state_dir
    if args.config:
        config = load_daemon_config(args.config)
        cap, state_dir = config.enforce.pause_cap_s, config.state_dir
    if seconds > cap:
        raise PauseError(
            f"a pause of {format_duration(seconds)} is longer than the cap of"
            f" {format_duration(cap)} (enforce.pause_cap_s)"
        )
    state = write_pause(args.state_dir or state_dir, seconds, reason, now)
    print(f"enforcement paused until {_when(state.until_epoch)} ({args.duration}): {reason}")
    return 0


def _resume(args, now: float) -> int:
    from maildrift.enforce.pause import clear_pause, read_pause
    from maildrift.service.config import DaemonConfig

    reason = _reason(args.reason, required=False)
    state_dir = args.state_dir or DaemonConfig().state_dir
    reading = read_pause(state_dir, now)
    if reading.state is None and reading.problem is None:
        print("enforcement is not paused; nothing to do")
        return 0
    clear_pause(state_dir, reason, now)
    print("enforcement resumed" + (f": {reason}" if reason else ""))
    return 0


def run_pause(args, clock: Callable[[], float] = time.time) -> int:
    """``pause`` or ``resume``, after ``args.command``; refusals raise PauseError (exit 2)."""
    if args.command == "pause":
        return _pause(args, clock())
    return _resume(args, clock())
