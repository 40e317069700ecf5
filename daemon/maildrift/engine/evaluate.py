"""The one evaluation function: ``maildrift check`` and the daemon both call it.

Pure: it reads only the policy, the loaded configuration (with its file
facts), the waivers and the clock it is handed.
"""

from __future__ import annotations

from datetime import datetime

from maildrift.engine.env import Env, Target
from maildrift.engine.incremental import EVERYTHING, RuleTrace, Trace, change_between
from maildrift.engine.mailconfig import MailConfig
from maildrift.engine.operators import evaluate_check
from maildrift.engine.results import Outcome, Report, Result
from maildrift.engine.scopes import expand_scope
from maildrift.policy import match_waiver

__all__ = ["evaluate", "evaluate_rule"]

#: Policy param: globs of ``SERVICE/TYPE`` left out of ``command=smtpd`` scopes.
EXCLUDE_PARAM = "exclude_services"


def _reference_text(reference) -> str:
    text = f"{reference.type} {reference.id}"
    return f"{text}: {reference.title}" if getattr(reference, "title", None) else text


def _hint(rule) -> str:
    remediation = rule.remediation
    if remediation is None:
        return ""
    if hasattr(remediation, "value") and hasattr(remediation, "param"):
        return f"set {remediation.param.name} = {remediation.value}"
    if hasattr(remediation, "settings"):
        settings = ", ".join(f"{k} = {v}" for k, v in remediation.settings)
        return f"in {' > '.join(str(s) for s in remediation.path)} set {settings}"
    return "fix the file's owner, group or mode"


class _RuleFacts:
    """What every result of one rule shares, formatted once per rule object."""

    __slots__ = ("components", "enforce", "hint", "id", "inputs", "references", "severity", "title")

    def __init__(self, rule) -> None:
        components = {s.component for s in rule.scopes}
        if "cross" in components:
            components |= {"postfix", "dovecot"}
        self.components = tuple(sorted(components))
        self.id = rule.id
        self.title = rule.title
        self.severity = rule.severity
        self.enforce = rule.enforce
        self.hint = _hint(rule)
        self.inputs = tuple(p.name for p in rule.inputs)
        self.references = tuple(_reference_text(r) for r in rule.references)


def _facts(rule) -> _RuleFacts:
    # Rules are immutable once loaded and judged on every evaluation.
    facts = rule.__dict__.get("_facts")
    if facts is None:
        facts = _RuleFacts(rule)
        object.__setattr__(rule, "_facts", facts)
    return facts


def _result(facts: _RuleFacts, target: Target, outcome: Outcome, waivers, now) -> Result:
    status = outcome.status
    waiver = None
    if waivers and status != "not_applicable":
        found = match_waiver(waivers, facts.id, target.scope, now)
        if found is not None:
            waiver = found.as_dict()
            if not found.expired and status in ("fail", "error"):
                status = "waived"
    message = outcome.message
    if status == "fail" and not message:
        message = facts.hint
    return Result(
        facts.id,
        facts.title,
        facts.severity,
        status,
        target.scope,
        outcome.parameters or facts.inputs,
        outcome.expected,
        # The display form, as postconf -n shows values: whitespace runs collapsed.
        " ".join(outcome.actual.split()),
        outcome.file,
        outcome.line,
        message,
        facts.references,
        waiver,
        target.instance,
        facts.enforce,
    )


def _component_error(mail: MailConfig, rule) -> tuple[Target, Outcome] | None:
    for component in _facts(rule).components:
        error = mail.errors.get(component)
        if error is not None:
            scope = str(rule.scopes[0])
            return Target(scope, component), Outcome(
                "error", file=error.file, line=error.line, message=error.message
            )
    return None


def _exclude(params) -> tuple[str, ...]:
    return tuple(params.get(EXCLUDE_PARAM, ()) or ())


def _judge(rule, mail: MailConfig, params, exclude: tuple[str, ...]) -> list:
    if mail.errors:
        broken = _component_error(mail, rule)
        if broken is not None:
            return [broken]
    check = rule.check
    scopes = rule.scopes
    if len(scopes) == 1:  # most rules: the targets of one scope are distinct
        return [
            (target, evaluate_check(check, Env(mail, target, params)))
            for target in expand_scope(scopes[0], mail, exclude)
        ]
    judged = []
    seen: set[str] = set()
    for scope in scopes:
        for target in expand_scope(scope, mail, exclude):
            if target.scope in seen:
                continue
            seen.add(target.scope)
            judged.append((target, evaluate_check(check, Env(mail, target, params))))
    return judged


def evaluate_rule(rule, mail: MailConfig, params, waivers, now, exclude=None) -> list[Result]:
    """Every result of one rule: one per place its scopes expand to."""
    if exclude is None:
        exclude = _exclude(params)
    facts = _facts(rule)
    return [_result(facts, t, o, waivers, now) for t, o in _judge(rule, mail, params, exclude)]


def _traced(rule, mail: MailConfig, params, waivers, now, exclude=None) -> RuleTrace:
    """Judge ``rule`` while the Postfix models record the names it asks for."""
    if exclude is None:
        exclude = _exclude(params)
    reads: set[str] = set()
    for config in mail.postfix:
        config.reads = reads
    try:
        judged = _judge(rule, mail, params, exclude)
    finally:
        for config in mail.postfix:
            config.reads = None
    facts = _facts(rule)
    results = tuple([_result(facts, t, o, waivers, now) for t, o in judged])
    return RuleTrace(tuple(judged), results, None if EVERYTHING in reads else frozenset(reads))


def evaluate(
    policy,
    mail: MailConfig,
    waivers=(),
    now: datetime | None = None,
    previous=None,
    traced: bool = True,
) -> Report:
    """Judge ``mail`` against ``policy``: one Result per (rule, scope).

    ``previous`` (the ``trace`` of an earlier report, as the daemon keeps it)
    lets the outcomes of rules the change cannot reach be carried over; the
    report is the same as without it (engine.incremental says why).  With
    ``traced=False`` the report has no trace: a one-shot ``check`` has no
    next evaluation to hand one to, and is spared recording what rules read.
    """
    if now is None:
        raise ValueError("evaluate needs the current time, in UTC")
    waivers = tuple(waivers)
    if not traced and previous is None:
        return _untraced(policy, mail, waivers, now)
    change = None
    if previous is not None:
        change = change_between(previous, policy, mail, waivers)
    # Results carry waiver state (and waivers expire with the clock): with any
    # waiver in play they are built again from the carried outcomes.
    reuse_results = change is not None and not waivers and not previous.waivers
    results = []
    traces = {}
    params = policy.params
    exclude = _exclude(params)
    for rule in policy.active_rules:
        trace = previous.rules.get(rule.id) if change is not None else None
        if trace is None or not change.unaffected(rule, trace):
            trace = _traced(rule, mail, params, waivers, now, exclude)
        elif not reuse_results:
            facts = _facts(rule)
            built = tuple([_result(facts, t, o, waivers, now) for t, o in trace.outcomes])
            trace = RuleTrace(trace.outcomes, built, trace.reads)
        traces[rule.id] = trace
        results += trace.results
    return Report(
        policy.name,
        policy.version,
        policy.sha256,
        tuple(results),
        trace=Trace(policy, mail, waivers, traces),
    )


def _untraced(policy, mail: MailConfig, waivers: tuple, now: datetime) -> Report:
    params = policy.params
    exclude = _exclude(params)
    results = []
    for rule in policy.active_rules:
        results += evaluate_rule(rule, mail, params, waivers, now, exclude)
    return Report(policy.name, policy.version, policy.sha256, tuple(results))
