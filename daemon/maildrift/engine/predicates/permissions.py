"""Predicates about file ownership and modes: config files and secrets."""

from __future__ import annotations

from maildrift.engine.env import Env
from maildrift.engine.filecheck import file_outcome, file_passes
from maildrift.engine.results import Outcome

__all__ = ["config_permissions", "secret_permissions"]


def config_permissions(
    env: Env, component: str = "postfix", owner=("root",), forbidden: int = 0o022
) -> Outcome:
    """Every file under the config directories is root's and not group/other-writable."""
    paths = [
        p
        for key, files in env.mail.files.config_files.items()
        if key.startswith(component + ":")
        for p in files
    ]
    owner = tuple(owner)
    for path in paths:
        if file_passes(env, path, owner, forbidden):
            continue
        outcome = file_outcome(env, path, owner=owner, mode_forbidden=forbidden)
        if outcome.status != "pass":
            return Outcome(
                outcome.status, outcome.actual, outcome.expected, path, None, parameters=(path,)
            )
    return Outcome("pass", actual=f"{len(paths)} files owned by root, not writable by others")


def secret_permissions(env: Env, forbidden: int = 0o007) -> Outcome:
    """Private keys, password maps and passwd-files are not readable by others."""
    secrets = sorted(
        p
        for p, info in env.mail.files.files.items()
        if info.secret and info.exists and not info.is_dir
    )
    for path in secrets:
        if file_passes(env, path, mode_forbidden=forbidden):
            continue
        outcome = file_outcome(env, path, mode_forbidden=forbidden)
        if outcome.status != "pass":
            return Outcome(
                "fail",
                outcome.actual,
                f"no permission for others ({forbidden:04o})",
                path,
                None,
                parameters=(path,),
            )
    return Outcome("pass", actual=f"{len(secrets)} secret files closed to others")
