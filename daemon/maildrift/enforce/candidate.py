"""Judging a planned revert before anything is written.

The candidate tree is the live tree with the plan's files read from memory
instead (the reader's overlay; nothing touches the disk) and the plan's
modes and owners put into the file facts.  The whole policy is
evaluated on it with the same function the daemon uses.

A plan is acceptable when:

- every rule of the group passes on the candidate (the revert fixes it);
- no rule that passes on the live tree fails on the candidate;
- no cross-component rule that passed before the edit fails on the candidate.
"""

from __future__ import annotations

import dataclasses

from maildrift.enforce.planner import Plan
from maildrift.engine.evaluate import evaluate
from maildrift.filestore import TreeReader
from maildrift.loading import load_mail_config

__all__ = ["Verdict", "evaluate_candidate", "judge_candidate"]

_OK = ("pass", "waived", "not_applicable")


@dataclasses.dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""


def _with_metadata(mail, plan: Plan):
    facts = mail.files
    changes = {m.path: m.meta for m in plan.metas}
    changes.update({w.path: w.meta for w in plan.writes if w.meta is not None})
    if not changes:
        return mail
    users = {uid: name for name, uid in facts.users.items()}
    groups = {gid: name for name, gid in facts.groups.items()}
    files = dict(facts.files)
    for path, meta in changes.items():
        info = files.get(path)
        if info is None:
            continue
        files[path] = dataclasses.replace(
            info,
            exists=True,
            mode=meta.mode,
            uid=meta.uid,
            gid=meta.gid,
            owner=users.get(meta.uid, str(meta.uid)),
            group=groups.get(meta.gid, str(meta.gid)),
        )
    mail.files = dataclasses.replace(facts, files=files)
    return mail


def evaluate_candidate(sources, plan: Plan, policy, waivers, now, cache=None, previous=None):
    """The report of the live tree with ``plan`` applied in memory (nothing is written).

    ``cache`` (a LoadCache kept for candidates) lets a component the plan does
    not touch be reused instead of parsed again; ``previous`` (the live
    report's trace) lets rules the plan cannot reach keep their live outcomes.
    """
    live = sources.reader
    reader = TreeReader(
        live.root, max_size=live.max_size, overlay={w.path: w.data for w in plan.writes}
    )
    mail = load_mail_config(dataclasses.replace(sources, reader=reader), cache=cache)
    return evaluate(policy, _with_metadata(mail, plan), waivers, now, previous=previous)


def judge_candidate(group: set, live_report, candidate_report, before: dict | None) -> Verdict:
    """Whether the candidate may be written; ``before`` is each result's status before the edit."""
    live = {(r.rule, r.scope): r.status for r in live_report.results}
    for result in candidate_report.results:
        key = (result.rule, result.scope)
        if result.status in _OK:
            continue
        if key in group:
            return Verdict(False, f"{result.rule} ({result.scope}) still fails")
        if live.get(key) in _OK:
            return Verdict(False, f"the revert would make {result.rule} ({result.scope}) fail")
        if result.scope == "cross" and (before or {}).get(key) == "pass":
            return Verdict(False, f"{result.rule} passed before the edit and would still fail")
    missing = group - {(r.rule, r.scope) for r in candidate_report.results}
    if missing:
        rule, scope = sorted(missing)[0]
        return Verdict(False, f"{rule} ({scope}) is not judged on the candidate")
    return Verdict(True)
