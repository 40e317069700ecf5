"""Judging one file's owner, group and mode against what a rule allows."""

from __future__ import annotations

from maildrift.engine.env import Env
from maildrift.engine.results import Outcome

__all__ = ["file_outcome", "file_passes"]


def file_passes(env: Env, path: str, owner=(), mode_forbidden=None) -> bool:
    """Whether :func:`file_outcome` would pass (no group or mode_max), without its text.

    The permission predicates judge every file of a directory; only a failing
    one needs the formatted outcome.
    """
    info = env.mail.files.get(path)
    if not info.exists:
        return False
    if owner and info.owner not in owner:
        return False
    return mode_forbidden is None or not info.mode & mode_forbidden


def file_outcome(
    env: Env,
    path: str,
    owner=(),
    group=(),
    mode_max=None,
    mode_forbidden=None,
    missing="fail",
    parameter: str = "",
) -> Outcome:
    """Judge one file's owner, group and mode."""
    info = env.mail.files.get(path)
    params = (parameter,) if parameter else (path,)
    if not info.exists:
        status = "pass" if missing == "pass" else "fail"
        return Outcome(status, actual=f"{path}: missing", expected="file exists", parameters=params)
    problems = []
    if owner and info.owner not in owner:
        problems.append(f"owner {info.owner}")
    if group and info.group not in group:
        problems.append(f"group {info.group}")
    if mode_max is not None and info.mode & ~mode_max:
        problems.append(f"mode {info.mode:04o}")
    if mode_forbidden is not None and info.mode & mode_forbidden:
        problems.append(f"mode {info.mode:04o}")
    wanted = []
    if owner:
        wanted.append("owner " + "/".join(owner))
    if group:
        wanted.append("group " + "/".join(group))
    if mode_max is not None:
        wanted.append(f"mode within {mode_max:04o}")
    if mode_forbidden is not None:
        wanted.append(f"no mode bits {mode_forbidden:04o}")
    actual = f"{path}: owner {info.owner}, group {info.group}, mode {info.mode:04o}"
    return Outcome(
        "fail" if problems else "pass", actual=actual, expected=", ".join(wanted), parameters=params
    )
