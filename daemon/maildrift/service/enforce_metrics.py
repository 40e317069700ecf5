"""Enforce-mode metrics, on the daemon's registry (these names are an interface).

Registered on the same ``CollectorRegistry`` as ``Metrics``; the composition
root turns ``_created`` series off for the process with
``prometheus_client.disable_created_metrics()`` before either is built.
Labels are rule ids, scopes, components, instances, tools and fixed words.

>>> from prometheus_client import CollectorRegistry
>>> m = EnforceMetrics(CollectorRegistry())
>>> m.revert("postfix-tls-auth-only", "postfix:default", "surgical")
>>> m.registry.get_sample_value(
...     "maildrift_reverts_total",
...     {"rule": "postfix-tls-auth-only", "scope": "postfix:default", "outcome": "surgical"})
1.0
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from maildrift.enforce.reload import CommandResult

__all__ = ["RELOAD_OUTCOMES", "REVERT_OUTCOMES", "EnforceMetrics"]

REVERT_OUTCOMES = (
    "surgical",
    "whole_file",
    "metadata",
    "remediated",
    "dry_run",
    "suspended",
    "invalid",
    "conflict",
    "failed",
)
RELOAD_OUTCOMES = ("ok", "failed", "timeout", "skipped")
#: From the watcher's event to the revert: milliseconds when it works, up to a second.
_UNSAFE_WINDOW_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
#: doveconf -n takes milliseconds, postfix check about half a second; the timeout is 10 s.
_VALIDATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
#: postfix/doveadm reload return in tens of ms; systemctl waits for the unit, timeout 30 s.
_RELOAD_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class EnforceMetrics:
    """Reverts, validations, reloads, suspensions and the pause, for enforce mode."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = r = registry
        self.reverts = Counter(
            "maildrift_reverts",
            "Reverts by outcome (dry_run: would have reverted; suspended: flap guard)",
            ["rule", "scope", "outcome"],
            registry=r,
        )
        self.unsafe_window = Histogram(
            "maildrift_unsafe_window_seconds",
            "From the event that showed an unsafe version to its revert",
            buckets=_UNSAFE_WINDOW_BUCKETS,
            registry=r,
        )
        self.validation_duration = Histogram(
            "maildrift_validation_duration_seconds",
            "Run time of postfix check and doveconf -n",
            ["tool"],
            buckets=_VALIDATION_BUCKETS,
            registry=r,
        )
        self.reload_duration = Histogram(
            "maildrift_reload_duration_seconds",
            "Run time of the reload command",
            ["component"],
            buckets=_RELOAD_BUCKETS,
            registry=r,
        )
        self.reloads = Counter(
            "maildrift_reloads",
            "Reloads by outcome (ok, failed, timeout, skipped)",
            ["component", "instance", "outcome"],
            registry=r,
        )
        self.suspended = Gauge(
            "maildrift_enforcement_suspended",
            "1 while the flap guard suspends enforcement of the rule",
            ["rule", "scope"],
            registry=r,
        )
        self.paused = Gauge(
            "maildrift_enforcement_paused", "1 while enforcement is paused", registry=r
        )
        self._suspended_keys: set[tuple[str, str]] = set()

    def revert(self, rule: str, scope: str, outcome: str) -> None:
        if outcome not in REVERT_OUTCOMES:
            raise ValueError(f"unknown revert outcome {outcome!r}")
        self.reverts.labels(rule, scope, outcome).inc()

    def observe_unsafe_window(self, seconds: float) -> None:
        self.unsafe_window.observe(seconds)

    def observe_validation(self, tool: str, result: CommandResult) -> None:
        """Validator's ``observe``: a skipped check (tool missing) ran nothing and is not timed."""
        if result.outcome != "skipped":
            self.validation_duration.labels(tool).observe(result.duration_s)

    def observe_reload(self, component: str, instance: str, result: CommandResult) -> None:
        """Reloader's ``observe``: every result is counted, only commands that ran are timed."""
        if result.outcome not in RELOAD_OUTCOMES:
            raise ValueError(f"unknown reload outcome {result.outcome!r}")
        self.reloads.labels(component, instance, result.outcome).inc()
        if result.outcome != "skipped":
            self.reload_duration.labels(component).observe(result.duration_s)

    def set_suspended(self, keys: Iterable[tuple[str, str]]) -> None:
        """1 for each suspended ``(rule, scope)``; keys no longer suspended go back to 0."""
        current = set(keys)
        for rule, scope in self._suspended_keys - current:
            self.suspended.labels(rule, scope).set(0)
        for rule, scope in current:
            self.suspended.labels(rule, scope).set(1)
        self._suspended_keys |= current

    def forget_rule(self, rule: str, scope: str) -> None:
        """Drop the suspension series of a rule that left the policy."""
        self._suspended_keys.discard((rule, scope))
        with contextlib.suppress(KeyError):
            self.suspended.remove(rule, scope)

    def set_paused(self, paused: bool) -> None:
        self.paused.set(1 if paused else 0)
