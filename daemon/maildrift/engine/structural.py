"""Checks that look at structure rather than one value: sections, files, predicates."""

from __future__ import annotations

import os

from maildrift.engine.env import Env
from maildrift.engine.results import Outcome
from maildrift.policy import checks as c
from maildrift.policy.scope import glob_match

__all__ = ["evaluate_structural", "file_outcome"]


def evaluate_structural(check, env: Env) -> Outcome:
    if isinstance(check, c.Section):
        return _section(check, env)
    if isinstance(check, c.FileMeta):
        return _file_meta(check, env)
    from maildrift.engine.predicates import PREDICATES

    return PREDICATES[check.name](env, **check.kwargs)


def _section(check, env: Env) -> Outcome:
    from maildrift.engine.operators import evaluate_check

    if env.mail.dovecot is None:
        return Outcome("error", message="no Dovecot configuration to judge")
    current = [env.target.section or env.mail.dovecot.root]
    for step in check.path:
        current = [
            child
            for section in current
            for child in section.children
            if child.type == step.type
            and (
                step.name is None or (child.name is not None and glob_match(step.name, child.name))
            )
        ]
    where = " > ".join(str(s) for s in check.path)
    if not current:
        status = "pass" if check.missing == "pass" else "fail"
        return Outcome(status, actual="no such section", expected=f"section {where}")
    outcomes = [evaluate_check(check.check, env.at(section=section)) for section in current]
    failing = [o for o in outcomes if o.status in ("fail", "error")]
    if check.match == "any" and len(failing) < len(outcomes):
        return next(o for o in outcomes if o.status not in ("fail", "error"))
    if failing:
        return failing[0]
    return outcomes[0]


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


def _file_meta(check, env: Env) -> Outcome:
    if check.path:
        paths = [check.path]
        name = ""
    else:
        value = env.value(check.param)
        text = value.text.strip()
        text = text[1:].strip() if text.startswith("<") else text
        paths = [p for p in text.replace(",", " ").split() if p.startswith("/")]
        name = check.param.name
        if not paths:
            return Outcome("not_applicable", parameters=(name,))
    outcomes = [
        file_outcome(
            env,
            os.path.normpath(p),
            check.owner,
            check.group,
            check.mode_max,
            check.mode_forbidden,
            check.missing,
            name,
        )
        for p in paths
    ]
    return next((o for o in outcomes if o.status != "pass"), outcomes[0])
