"""Enforce-mode metrics: names, labels, outcomes, shared registry, and promtool's lint."""

from __future__ import annotations

import subprocess

import prometheus_client
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from maildrift.enforce.reload import CommandResult
from maildrift.service.enforce_metrics import REVERT_OUTCOMES, EnforceMetrics
from maildrift.service.metrics import Metrics
from tests.realtools import require_tool

RULE, SCOPE = "postfix-tls-auth-only", "postfix:default"


def result(outcome: str, seconds: float = 0.05) -> CommandResult:
    return CommandResult(outcome, 0 if outcome == "ok" else None, seconds)


@pytest.fixture
def exposition():
    """Both metric sets on one registry after a round of reverts, checks and reloads."""
    prometheus_client.disable_created_metrics()  # as the composition root does
    registry = CollectorRegistry(auto_describe=True)
    Metrics(registry)
    metrics = EnforceMetrics(registry)
    for outcome in REVERT_OUTCOMES:
        metrics.revert(RULE, SCOPE, outcome)
    metrics.revert(RULE, SCOPE, "surgical")
    metrics.observe_unsafe_window(0.004)
    metrics.observe_validation("postfix", result("ok", 0.42))
    metrics.observe_validation("doveconf", result("failed", 0.008))
    metrics.observe_validation("doveconf", result("skipped"))
    metrics.observe_reload("postfix", "postfix-out", result("ok", 0.07))
    metrics.observe_reload("dovecot", "", result("timeout", 30.0))
    metrics.observe_reload("dovecot", "", result("skipped"))
    metrics.set_suspended({(RULE, SCOPE), ("dovecot-ssl-required", "dovecot:default")})
    metrics.set_suspended({(RULE, SCOPE)})
    metrics.set_paused(True)
    return metrics, generate_latest(registry).decode()


def families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_names_types_and_labels(exposition):
    """Every enforce metric is there with its type and exactly its documented labels."""
    _, text = exposition
    found = families(text)
    expected = {
        "maildrift_reverts": ("counter", {"rule", "scope", "outcome"}),
        "maildrift_unsafe_window_seconds": ("histogram", {"le"}),
        "maildrift_validation_duration_seconds": ("histogram", {"tool", "le"}),
        "maildrift_reload_duration_seconds": ("histogram", {"component", "le"}),
        "maildrift_reloads": ("counter", {"component", "instance", "outcome"}),
        "maildrift_enforcement_suspended": ("gauge", {"rule", "scope"}),
        "maildrift_enforcement_paused": ("gauge", set()),
    }
    for name, (kind, labels) in expected.items():
        assert found[name].type == kind, name
        for sample in found[name].samples:
            if sample.name.endswith(("_count", "_sum")):
                assert set(sample.labels) == labels - {"le"}, sample
            else:
                assert set(sample.labels) == labels, sample
    assert "_created" not in text


def test_values_of_reverts_reloads_suspension_and_pause(exposition):
    """Counters count, skipped runs are counted but not timed, resumed keys read 0."""
    metrics, _ = exposition
    value = metrics.registry.get_sample_value

    def reloads(outcome):
        labels = {"component": "dovecot", "instance": "", "outcome": outcome}
        return value("maildrift_reloads_total", labels)

    def suspended(rule, scope):
        return value("maildrift_enforcement_suspended", {"rule": rule, "scope": scope})

    surgical = {"rule": RULE, "scope": SCOPE, "outcome": "surgical"}
    assert value("maildrift_reverts_total", surgical) == 2
    assert (reloads("skipped"), reloads("timeout"), reloads("ok")) == (1, 1, None)
    assert value("maildrift_reload_duration_seconds_count", {"component": "dovecot"}) == 1
    assert value("maildrift_validation_duration_seconds_count", {"tool": "doveconf"}) == 1
    postfix_le_half = {"tool": "postfix", "le": "0.5"}
    assert value("maildrift_validation_duration_seconds_bucket", postfix_le_half) == 1
    assert value("maildrift_unsafe_window_seconds_bucket", {"le": "0.005"}) == 1
    assert suspended(RULE, SCOPE) == 1
    assert suspended("dovecot-ssl-required", "dovecot:default") == 0
    metrics.forget_rule("dovecot-ssl-required", "dovecot:default")
    assert suspended("dovecot-ssl-required", "dovecot:default") is None
    assert value("maildrift_enforcement_paused") == 1
    metrics.set_paused(False)
    assert value("maildrift_enforcement_paused") == 0


def test_unsafe_window_buckets_span_a_millisecond_to_a_second(exposition):
    """The unsafe-window histogram resolves 1 ms and ends at 1 s (then +Inf)."""
    _, text = exposition
    bounds = [
        float(s.labels["le"])
        for s in families(text)["maildrift_unsafe_window_seconds"].samples
        if s.name.endswith("_bucket")
    ]
    assert bounds[0] == 0.001
    assert bounds[-2:] == [1.0, float("inf")]


def test_unknown_outcomes_are_refused():
    """An outcome outside the documented words is a programming error, not a new series."""
    metrics = EnforceMetrics(CollectorRegistry())
    with pytest.raises(ValueError):
        metrics.revert(RULE, SCOPE, "reverted")
    with pytest.raises(ValueError):
        metrics.observe_reload("postfix", "", result("crashed"))


def test_promtool_accepts_the_exposition(exposition):
    """promtool check metrics passes on the combined exposition."""
    promtool = require_tool("promtool")
    _, text = exposition
    proc = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
