"""The canonical form of a merged policy, and the sha256 that identifies it.

The canonical form is the policy as one file would spell it, with provenance
dropped and every choice of spelling made once: parameters qualified
(``postfix:NAME``), defaults written out, modes as four octal digits, times in
seconds, and rules, scopes and inputs sorted. It loads back as a policy with
the same hash, and two layerings that merge to the same rules hash alike.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from maildrift.policy.checks import (
    AllOf,
    AnyOf,
    Bound,
    Compare,
    ContainsAll,
    ContainsNone,
    Equals,
    FileMeta,
    IsEmpty,
    IsNonEmpty,
    IsSet,
    IsUnset,
    Not,
    OneOf,
    Predicate,
    Range,
    Section,
)
from maildrift.policy.rules import Reference, Rule, SetFile, SetSection, SetValue

if TYPE_CHECKING:
    from maildrift.policy.loader import Policy

__all__ = ["canonical_json", "check_to_canonical", "policy_sha256", "policy_to_canonical"]

_PRESENCE = {IsSet: "set", IsUnset: "unset", IsEmpty: "empty", IsNonEmpty: "nonempty"}


def policy_to_canonical(policy: Policy) -> dict[str, Any]:
    """The merged policy as plain JSON-ready data (a valid policy file itself)."""
    return {
        "version": policy.version,
        "name": policy.name,
        "description": policy.description,
        "references": [_reference(r) for r in policy.references],
        "params": {name: _plain(value) for name, value in policy.params.items()},
        "rules": [_rule(rule) for rule in sorted(policy.rules, key=lambda r: r.id)],
    }


def canonical_json(policy: Policy) -> str:
    """Sorted keys, no insignificant whitespace, UTF-8 as is."""
    return json.dumps(
        policy_to_canonical(policy), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def policy_sha256(policy: Policy) -> str:
    return hashlib.sha256(canonical_json(policy).encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _reference(ref: Reference) -> dict[str, Any]:
    out = {"type": ref.type, "id": ref.id, "title": ref.title, "url": ref.url}
    return {k: v for k, v in out.items() if v is not None}


def _rule(rule: Rule) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": rule.id,
        "title": rule.title,
        "description": rule.description,
        "severity": rule.severity,
        "references": [_reference(r) for r in rule.references],
        "scope": sorted(str(s) for s in rule.scopes),
        "inputs": sorted(str(p) for p in rule.inputs),
        "check": check_to_canonical(rule.check),
        "enforce": rule.enforce,
        "disabled": rule.disabled,
    }
    if rule.remediation is not None:
        out["remediation"] = _remediation(rule.remediation)
    return out


def _bound(bound: Bound) -> Any:
    return f"${bound.param}" if bound.param is not None else _plain(bound.value)


def _mode(mode: int | None) -> str | None:
    return None if mode is None else f"{mode:04o}"


def _target(check: FileMeta | SetFile) -> dict[str, str]:
    return {"path": check.path} if check.path is not None else {"param": str(check.param)}


def check_to_canonical(check: Any) -> dict[str, Any]:
    """One check in its canonical YAML shape."""
    if isinstance(check, Equals):
        return {"param": str(check.param), "equals": check.value}
    if isinstance(check, OneOf):
        return {"param": str(check.param), "one_of": list(check.values)}
    if isinstance(check, (ContainsAll, ContainsNone)):
        op = "contains_all" if isinstance(check, ContainsAll) else "contains_none"
        return {"param": str(check.param), op: list(check.items)}
    if isinstance(check, Range):
        spec = {"kind": check.kind, "min": check.min, "max": check.max}
        spec = {k: v if k == "kind" else _bound(v) for k, v in spec.items() if v is not None}
        return {"param": str(check.param), "range": spec}
    if isinstance(check, Compare):
        spec = {
            "op": check.op,
            "other": str(check.other),
            "factor": _bound(check.factor),
            "kind": check.kind,
        }
        return {"param": str(check.param), "compare": spec}
    if type(check) in _PRESENCE:
        return {"param": str(check.param), _PRESENCE[type(check)]: True}
    if isinstance(check, FileMeta):
        spec = {
            "owner": list(check.owner) or None,
            "group": list(check.group) or None,
            "mode_max": _mode(check.mode_max),
            "mode_forbidden": _mode(check.mode_forbidden),
            "missing": check.missing,
        }
        return {**_target(check), "file": {k: v for k, v in spec.items() if v is not None}}
    if isinstance(check, Section):
        return {
            "section": [str(step) for step in check.path],
            "check": check_to_canonical(check.check),
            "missing": check.missing,
            "match": check.match,
        }
    if isinstance(check, Predicate):
        return {"predicate": check.name, "args": {k: _plain(v) for k, v in check.args}}
    if isinstance(check, (AllOf, AnyOf)):
        op = "all" if isinstance(check, AllOf) else "any"
        return {op: [check_to_canonical(c) for c in check.checks]}
    if isinstance(check, Not):
        return {"not": check_to_canonical(check.check)}
    raise TypeError(f"not a check: {check!r}")


def _remediation(rem: Any) -> dict[str, Any]:
    if isinstance(rem, SetValue):
        return {"param": str(rem.param), "value": rem.value}
    if isinstance(rem, SetSection):
        return {"section": [str(s) for s in rem.path], "settings": dict(rem.settings)}
    if isinstance(rem, SetFile):
        spec = {"mode": _mode(rem.mode), "owner": rem.owner, "group": rem.group}
        return {**_target(rem), **{k: v for k, v in spec.items() if v is not None}}
    raise TypeError(f"not a remediation: {rem!r}")
