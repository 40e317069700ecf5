"""Waivers: dated, reasoned exceptions to a rule, optionally for some scopes only.

A waiver file is a YAML list::

    - rule: postfix-smtpd-tls-auth-only
      scope: "postfix:submission/inet"   # optional; exact or a glob (* and ?)
      reason: "legacy scanners, ticket OPS-1234"
      expires: 2025-06-30               # valid through 23:59:59 UTC that day

Expired waivers stop applying but are still reported, so a lapsed exception
shows up as such rather than as a plain failure.

>>> from datetime import datetime, timezone
>>> waivers = parse_waivers("- {rule: r1, reason: test, expires: 2025-06-30}\\n", "w.yaml")
>>> at = datetime(2025, 6, 30, 23, 59, 59, tzinfo=timezone.utc)
>>> match_waiver(waivers, "r1", "postfix:main", at).expired
False
>>> later = datetime(2025, 7, 1, tzinfo=timezone.utc)
>>> match_waiver(waivers, "r1", "postfix:main", later).as_dict()["expired"]
True
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from maildrift.errors import ConfigError
from maildrift.policy.nodes import check_keys, expect_mapping, expect_str, fail, suggest
from maildrift.policy.rules import RULE_ID
from maildrift.policy.scope import glob_match, is_glob, parse_scope
from maildrift.policy.yamlmarks import Mark, MarkedList, load_yaml, load_yaml_file

__all__ = [
    "WAIVER_KEYS",
    "Waiver",
    "WaiverMatch",
    "load_waivers",
    "match_waiver",
    "parse_waivers",
]

WAIVER_KEYS = ("rule", "scope", "reason", "expires")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


@dataclass(frozen=True)
class Waiver:
    rule: str
    #: None for every scope; else a canonical scope or a glob over scope strings.
    scope: str | None
    reason: str
    expires: date
    file: str = field(compare=False)
    line: int = field(compare=False)

    @property
    def ends_at(self) -> datetime:
        """The first instant the waiver no longer applies: midnight UTC after ``expires``."""
        return datetime.combine(self.expires + timedelta(days=1), time(), timezone.utc)

    def applies_to(self, rule_id: str, scope: str) -> bool:
        if rule_id != self.rule:
            return False
        if self.scope is None:
            return True
        if is_glob(self.scope):
            return glob_match(self.scope, scope)
        return self.scope == scope


@dataclass(frozen=True)
class WaiverMatch:
    waiver: Waiver
    expired: bool

    def as_dict(self) -> dict[str, Any]:
        """What a result shows under ``waiver``."""
        return {
            "expired": self.expired,
            "reason": self.waiver.reason,
            "expires": self.waiver.expires.isoformat(),
            "scope": self.waiver.scope,
            "file": self.waiver.file,
            "line": self.waiver.line,
        }


def load_waivers(path: str, known_rules: Collection[str] | None = None) -> list[Waiver]:
    """Read a waiver file; with ``known_rules``, a waiver for another rule is an error."""
    return _parse(load_yaml_file(path), path, known_rules)


def parse_waivers(text: str, file: str, known_rules: Collection[str] | None = None) -> list[Waiver]:
    """:func:`load_waivers` for YAML text already in memory."""
    return _parse(load_yaml(text, file), file, known_rules)


def match_waiver(
    waivers: Sequence[Waiver], rule_id: str, scope_str: str, now: datetime
) -> WaiverMatch | None:
    """The waiver for one result: an active one if any, else the latest expired one.

    Among several active waivers the one lasting longest wins (the first on a tie).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    scope = _canonical_scope(scope_str)
    matching = [w for w in waivers if w.applies_to(rule_id, scope)]
    active = [w for w in matching if now < w.ends_at]
    pool = active or matching
    if not pool:
        return None
    best = max(pool, key=lambda w: w.expires)  # max() keeps the first of equals
    return WaiverMatch(best, expired=not active)


def _canonical_scope(text: str) -> str:
    try:
        return str(parse_scope(text))
    except ConfigError:
        return text


def _parse(doc: Any, file: str, known_rules: Collection[str] | None) -> list[Waiver]:
    if doc is None:
        return []
    if not isinstance(doc, MarkedList):
        fail("a waiver file must be a YAML list of waivers", getattr(doc, "mark", Mark(file, 1)))
    return [_waiver(item, doc.item_mark(i), known_rules) for i, item in enumerate(doc)]


def _waiver(value: Any, mark: Mark, known_rules: Collection[str] | None) -> Waiver:
    node = expect_mapping(value, mark, "a waiver")
    check_keys(node, WAIVER_KEYS, "waiver")
    for key in ("rule", "reason", "expires"):
        if node.get(key) is None:
            fail(f"waiver has no {key!r}", node.mark)
    rule = expect_str(node["rule"], node.value_mark("rule"), "waiver 'rule'")
    if not RULE_ID.match(rule):
        fail(f"waiver 'rule' {rule!r} is not a rule id", node.value_mark("rule"))
    if known_rules is not None and rule not in known_rules:
        fail(
            f"waiver for unknown rule {rule!r}{suggest(rule, known_rules)}", node.value_mark("rule")
        )
    scope = None
    if node.get("scope") is not None:
        scope = _scope(
            expect_str(node["scope"], node.value_mark("scope"), "waiver 'scope'"),
            node.value_mark("scope"),
        )
    return Waiver(
        rule=rule,
        scope=scope,
        reason=expect_str(node["reason"], node.value_mark("reason"), "waiver 'reason'").strip(),
        expires=_date(node["expires"], node.value_mark("expires")),
        file=node.mark.file,
        line=node.mark.line,
    )


def _scope(text: str, mark: Mark) -> str:
    if not is_glob(text):
        return str(parse_scope(text, mark.file, mark.line))
    head = text.split(":", 1)[0]
    component = head.partition("@")[0]
    if not is_glob(head) and component not in ("postfix", "dovecot"):
        fail(
            f"waiver scope pattern {text!r} must start with postfix or dovecot"
            + suggest(component, ("postfix", "dovecot")),
            mark,
        )
    return text


def _date(value: Any, mark: Mark) -> date:
    if isinstance(value, str) and _DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            fail(f"waiver 'expires' {value!r} is not a calendar date", mark)
    fail(f"waiver 'expires' must be a date written YYYY-MM-DD, not {value!r}", mark)
