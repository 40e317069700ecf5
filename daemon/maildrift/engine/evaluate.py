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


def _references(rule) -> tuple[str, ...]:
    # Rules are immutable once loaded and judged on every evaluation: format once.
    cached = rule.__dict__.get("_reference_texts")
    if cached is None:
        cached = tuple(_reference_text(r) for r in rule.references)
        object.__setattr__(rule, "_reference_texts", cached)
    return cached


def _input_names(rule) -> tuple[str, ...]:
    cached = rule.__dict__.get("_input_names")
    if cached is None:
        cached = tuple(p.name for p in rule.inputs)
        object.__setattr__(rule, "_input_names", cached)
    return cached


def _result(rule, target: Target, outcome: Outcome, waivers, now) -> Result:
    status = outcome.status
    waiver = None
    if status != "not_applicable" and waivers:
        found = match_waiver(waivers, rule.id, target.scope, now)
        if found is not None:
            waiver = found.as_dict()
            if not found.expired and status in ("fail", "error"):
                status = "waived"
    message = outcome.message
    if status == "fail" and not message:
        message = _hint(rule)
    return Result(
        rule=rule.id,
        title=rule.title,
        severity=rule.severity,
        status=status,
        scope=target.scope,
        parameters=outcome.parameters or _input_names(rule),
        expected=outcome.expected,
        # The display form, as postconf -n shows values: whitespace runs collapsed.
        actual=" ".join(outcome.actual.split()),
        file=outcome.file,
        line=outcome.line,
        message=message,
        references=_references(rule),
        waiver=waiver,
        instance=target.instance,
        enforce=rule.enforce,
    )


def _components(rule) -> tuple[str, ...]:
    cached = rule.__dict__.get("_components")
    if cached is None:
        components = {s.component for s in rule.scopes}
        if "cross" in components:
            components |= {"postfix", "dovecot"}
        cached = tuple(sorted(components))
        object.__setattr__(rule, "_components", cached)
    return cached


def _component_error(mail: MailConfig, rule) -> tuple[Target, Outcome] | None:
    if not mail.errors:
        return None
    for component in _components(rule):
        error = mail.errors.get(component)
        if error is not None:
            scope = str(rule.scopes[0])
            return Target(scope, component), Outcome(
                "error", file=error.file, line=error.line, message=error.message
            )
    return None


def _judge(rule, mail: MailConfig, params) -> list[tuple[Target, Outcome]]:
    broken = _component_error(mail, rule)
    if broken is not None:
        return [broken]
    exclude = tuple(params.get(EXCLUDE_PARAM, ()) or ())
    judged = []
    seen: set[str] = set()
    for scope in rule.scopes:
        for target in expand_scope(scope, mail, exclude):
            if target.scope in seen:
                continue
            seen.add(target.scope)
            judged.append((target, evaluate_check(rule.check, Env(mail, target, params))))
    return judged


def evaluate_rule(rule, mail: MailConfig, params, waivers, now) -> list[Result]:
    """Every result of one rule: one per place its scopes expand to."""
    return [_result(rule, t, o, waivers, now) for t, o in _judge(rule, mail, params)]


def _traced(rule, mail: MailConfig, params, waivers, now) -> RuleTrace:
    """Judge ``rule`` while the Postfix models record the names it asks for."""
    reads: set[str] = set()
    for config in mail.postfix:
        config.reads = reads
    try:
        judged = _judge(rule, mail, params)
    finally:
        for config in mail.postfix:
            config.reads = None
    results = tuple(_result(rule, t, o, waivers, now) for t, o in judged)
    return RuleTrace(tuple(judged), results, None if EVERYTHING in reads else frozenset(reads))


def evaluate(
    policy, mail: MailConfig, waivers=(), now: datetime | None = None, previous=None
) -> Report:
    """Judge ``mail`` against ``policy``: one Result per (rule, scope).

    ``previous`` (the ``trace`` of an earlier report, as the daemon keeps it)
    lets the outcomes of rules the change cannot reach be carried over; the
    report is the same as without it (engine.incremental says why).
    """
    if now is None:
        raise ValueError("evaluate needs the current time, in UTC")
    waivers = tuple(waivers)
    change = None
    if previous is not None:
        change = change_between(previous, policy, mail, waivers)
    # Results carry waiver state (and waivers expire with the clock): with any
    # waiver in play they are built again from the carried outcomes.
    reuse_results = change is not None and not waivers and not previous.waivers
    results = []
    traces = {}
    for rule in policy.active_rules:
        trace = previous.rules.get(rule.id) if change is not None else None
        if trace is None or not change.unaffected(rule, trace):
            trace = _traced(rule, mail, policy.params, waivers, now)
        elif not reuse_results:
            built = tuple(_result(rule, t, o, waivers, now) for t, o in trace.outcomes)
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
