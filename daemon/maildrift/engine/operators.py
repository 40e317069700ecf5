"""The generic check operators: pure functions of a check and an Env."""

from __future__ import annotations

from maildrift.engine.env import Env, Value
from maildrift.engine.results import Outcome
from maildrift.engine.structural import STRUCTURAL_CHECKS
from maildrift.engine.values import (
    ValueError_,
    dovecot_number,
    postfix_bool,
    postfix_int,
    postfix_size,
    postfix_time,
    split_list,
)
from maildrift.errors import ConfigError
from maildrift.policy import checks as c

__all__ = ["evaluate_check", "quantity_of"]


def _outcome(ok: bool, value: Value, expected: str, actual: str | None = None) -> Outcome:
    return Outcome(
        "pass" if ok else "fail",
        actual=value.text if actual is None else actual,
        expected=expected,
        file=value.file,
        line=value.line,
        parameters=(value.name,),
    )


def _error(value: Value, message: str) -> Outcome:
    return Outcome(
        "error",
        actual=value.text,
        file=value.file,
        line=value.line,
        message=message,
        parameters=(value.name,),
    )


def _same(a: str, b: str) -> bool:
    """Equal, with booleans compared case-insensitively as Postfix does."""
    x, y = postfix_bool(a), postfix_bool(b)
    if x is not None and y is not None:
        return x == y
    return a.strip() == b.strip()


def quantity_of(env: Env, value: Value, kind: str) -> float:
    """The number a daemon reads from ``value``; ValueError_ where it would refuse it."""
    if env.target.component == "dovecot" or env.target.section is not None:
        return dovecot_number(value.text)
    if kind == "time":
        config = env.target.postfix or env.mail.postfix[0]
        unit = config.params.time_units.get(value.name)
        if unit is None:
            default = config.defaults.raw.get(value.name, "s").strip()
            unit = default[-1] if default[-1:] in "smhdw" and default[-1:].isalpha() else "s"
        return postfix_time(value.text, unit)
    if kind == "size":
        return postfix_size(value.text)
    return postfix_int(value.text)


def _bound_text(bound) -> str:
    return f"{bound.value:g}" + (f" (${bound.param})" if bound.param else "")


def evaluate_check(check, env: Env) -> Outcome:
    """Evaluate one check; configuration errors become ``error`` outcomes."""
    try:
        return _evaluate(check, env)
    except ConfigError as exc:
        return Outcome("error", file=exc.file, line=exc.line, message=exc.message)


def _evaluate(check, env: Env) -> Outcome:
    kind = type(check)
    handler = _VALUE_CHECKS.get(kind)
    if handler is None:
        other = _OTHER_CHECKS.get(kind)
        if other is None:
            raise TypeError(f"unknown check {kind.__name__}")
        return other(check, env)
    value = env.value(check.param)
    if value.unknown:
        names = ", ".join(sorted(value.unknown))
        return _error(value, f"depends on {names}, unknown for this host (give --host-facts)")
    return handler(check, env, value)


def _equals(check, env: Env, value: Value) -> Outcome:
    return _outcome(_same(value.text, check.value), value, check.value)


def _one_of(check, env: Env, value: Value) -> Outcome:
    ok = any(_same(value.text, v) for v in check.values)
    return _outcome(ok, value, "one of " + ", ".join(check.values))


def _contains_all(check, env: Env, value: Value) -> Outcome:
    items = {i.lower() for i in split_list(value.text)}
    missing = [i for i in check.items if i.lower() not in items]
    return _outcome(not missing, value, "contains " + ", ".join(check.items))


def _contains_none(check, env: Env, value: Value) -> Outcome:
    items = {i.lower() for i in split_list(value.text)}
    present = [i for i in check.items if i.lower() in items]
    return _outcome(not present, value, "none of " + ", ".join(check.items))


def _is_set(check, env: Env, value: Value) -> Outcome:
    shown = value.text if value.explicit else "(default)"
    return _outcome(value.explicit, value, "set explicitly", shown)


def _is_unset(check, env: Env, value: Value) -> Outcome:
    shown = value.text if value.explicit else "(default)"
    return _outcome(not value.explicit, value, "left at its default", shown)


def _is_empty(check, env: Env, value: Value) -> Outcome:
    return _outcome(not value.text.strip(), value, "empty")


def _is_nonempty(check, env: Env, value: Value) -> Outcome:
    return _outcome(bool(value.text.strip()), value, "non-empty", value.text or "(empty)")


def _range(check, env: Env, value: Value) -> Outcome:
    try:
        number = quantity_of(env, value, check.kind)
    except ValueError_ as exc:
        return _error(value, str(exc))
    parts = []
    ok = True
    if check.min is not None:
        parts.append(f">= {_bound_text(check.min)}")
        ok = ok and number >= check.min.value
    if check.max is not None:
        parts.append(f"<= {_bound_text(check.max)}")
        ok = ok and number <= check.max.value
    return _outcome(ok, value, " and ".join(parts))


_RELATIONS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
}


def _compare(check, env: Env, value: Value) -> Outcome:
    other = env.value(check.other)
    try:
        left = quantity_of(env, value, check.kind)
        right = quantity_of(env, other, check.kind)
    except ValueError_ as exc:
        return _error(value, str(exc))
    limit = check.factor.value * right
    expected = f"{check.op} {check.factor.value:g} x {check.other.name} ({limit:g})"
    return _outcome(_RELATIONS[check.op](left, limit), value, expected)


#: Checks of one value, by type: the value is read (and its unknowns refused) first.
_VALUE_CHECKS = {
    c.Equals: _equals,
    c.OneOf: _one_of,
    c.ContainsAll: _contains_all,
    c.ContainsNone: _contains_none,
    c.IsSet: _is_set,
    c.IsUnset: _is_unset,
    c.IsEmpty: _is_empty,
    c.IsNonEmpty: _is_nonempty,
    c.Range: _range,
    c.Compare: _compare,
}


def _combinator(check, env: Env) -> Outcome:
    if isinstance(check, c.Not):
        inner = evaluate_check(check.check, env)
        if inner.status not in ("pass", "fail"):
            return inner
        status = "fail" if inner.status == "pass" else "pass"
        return Outcome(
            status,
            inner.actual,
            f"not ({inner.expected})",
            inner.file,
            inner.line,
            inner.message,
            inner.parameters,
        )
    all_of = type(check) is c.AllOf
    outcomes = []
    decided = "not_applicable" if all_of else "pass"
    for item in check.checks:
        outcome = evaluate_check(item, env)
        # Short-circuit where the answer is already decided; checks have no side effects.
        if outcome.status == decided:
            return outcome
        outcomes.append(outcome)
    if all_of:
        for status in ("error", "fail"):
            for outcome in outcomes:
                if outcome.status == status:
                    return outcome
        return _merge(outcomes, "pass")
    errors = [o for o in outcomes if o.status == "error"]
    if errors:
        return errors[0]
    failing = [o for o in outcomes if o.status == "fail"]
    if not failing:
        return outcomes[0] if outcomes else Outcome("not_applicable")
    return Outcome(
        "fail",
        failing[0].actual,
        " or ".join(o.expected for o in failing),
        failing[0].file,
        failing[0].line,
        failing[0].message,
        tuple(p for o in failing for p in o.parameters),
    )


def _merge(outcomes: list[Outcome], status: str) -> Outcome:
    if len(outcomes) == 2 and not (outcomes[0].actual or outcomes[0].expected):
        # The usual pair, a gate that passed bare and then the check: the same
        # merge without the joins.
        gate, check = outcomes
        params = gate.parameters + check.parameters
        return Outcome(
            status,
            check.actual,
            check.expected,
            gate.file,
            gate.line,
            gate.message,
            params if len(params) < 2 else tuple(dict.fromkeys(params)),
        )
    first = outcomes[0] if outcomes else Outcome(status)
    params = tuple(dict.fromkeys(p for o in outcomes for p in o.parameters))
    return Outcome(
        status,
        "; ".join(o.actual for o in outcomes if o.actual),
        "; ".join(o.expected for o in outcomes if o.expected),
        first.file,
        first.line,
        first.message,
        params,
    )


#: Every other check, by type: combinators here, structural ones in engine.structural.
_OTHER_CHECKS = {c.AllOf: _combinator, c.AnyOf: _combinator, c.Not: _combinator}
_OTHER_CHECKS.update(STRUCTURAL_CHECKS)
