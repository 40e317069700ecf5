"""Checks that look at structure rather than one value: sections, files, predicates."""

from __future__ import annotations

import os

from maildrift.engine.env import Env
from maildrift.engine.filecheck import file_outcome
from maildrift.engine.predicates import PREDICATES
from maildrift.engine.results import Outcome
from maildrift.policy import checks as c
from maildrift.policy.scope import glob_match

__all__ = ["STRUCTURAL_CHECKS"]


def _predicate(check, env: Env) -> Outcome:
    args = check.args
    return PREDICATES[check.name](env, **dict(args)) if args else PREDICATES[check.name](env)


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


#: Handlers by check type: operators dispatches to them in one lookup.
STRUCTURAL_CHECKS = {c.Section: _section, c.FileMeta: _file_meta, c.Predicate: _predicate}
