"""The metrics exposition: names, labels, no values in labels, and promtool's lint."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timezone

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from maildrift.engine.evaluate import evaluate
from maildrift.loading import load_mail_config
from maildrift.policyload import load_site_policy
from maildrift.service.metrics import Metrics
from maildrift.wiring import build_sources
from tests.policy_samples.sampletree import Sample, build_tree
from tests.realtools import require_tool

FACTS = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "policy_samples", "host-facts.yaml"
)
NOW = datetime(2026, 11, 28, tzinfo=timezone.utc)


def _report(root: str):
    policy = load_site_policy()
    sources = build_sources(root=root, host_facts=FACTS, postfix_version="3.7")
    return policy, evaluate(policy, load_mail_config(sources), (), NOW)


@pytest.fixture
def exposition(tmp_path):
    """Metrics after a hardened evaluation, then one with noplaintext removed."""
    root = build_tree(Sample("demo"), str(tmp_path / "root"))
    metrics = Metrics(CollectorRegistry())
    policy, report = _report(root)
    metrics.set_policy(policy)
    metrics.set_backend("pyinotify")
    previous = {(r.rule, r.scope): r.status for r in report.results}
    metrics.publish(report, None)
    main_cf = os.path.join(root, "etc/postfix/main.cf")
    with open(main_cf, encoding="utf-8") as handle:
        text = handle.read().replace("    noplaintext\n", "    mutual_auth\n")
    with open(main_cf, "w", encoding="utf-8") as handle:
        handle.write(text)
    _, report = _report(root)
    drifted = metrics.publish(report, previous)
    return metrics, generate_latest(metrics.registry).decode(), drifted


def test_compliance_series_flip_and_drift_is_counted(exposition):
    """The rule's compliant series is 0 after the unsafe edit and one drift is counted."""
    _, text, drifted = exposition
    series = (
        'maildrift_rule_compliant{instance="",rule="postfix-sasl-security-options",'
        'scope="postfix:submission/inet",severity="high"} 0.0'
    )
    assert series in text
    assert [d.rule for d in drifted] == ["postfix-sasl-security-options"]
    assert (
        'maildrift_drift_events_total{instance="",rule="postfix-sasl-security-options",'
        'scope="postfix:submission/inet",severity="high"} 1.0'
    ) in text


def test_not_applicable_results_have_no_series(exposition):
    """Results that are not applicable export no compliance series."""
    _, text, _ = exposition
    assert 'rule="postfix-sasl-security-options",scope="postfix:smtp/inet"' not in text
    assert 'maildrift_rules{status="not_applicable"}' in text


def test_no_created_series_and_policy_info(exposition):
    """_created series are off; policy_info carries name, version and sha256."""
    import prometheus_client

    prometheus_client.disable_created_metrics()
    metrics, _, _ = exposition
    text = generate_latest(metrics.registry).decode()
    assert "_created" not in text
    assert 'maildrift_policy_info{policy="rhel-mail-hardening",sha256="' in text
    assert 'maildrift_watch_backend_info{backend="pyinotify"} 1.0' in text


def test_labels_hold_no_configuration_values(exposition):
    """No label value is a parameter value (only ids, scopes and fixed words)."""
    _, text, _ = exposition
    for forbidden in ("noanonymous", "mutual_auth", "private/auth", "mail.example.com"):
        assert forbidden not in text


def test_promtool_accepts_the_exposition(exposition, tmp_path):
    """promtool check metrics passes on the exposition."""
    promtool = require_tool("promtool")
    _, text, _ = exposition
    proc = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_textfile_is_written_atomically(exposition, tmp_path):
    """The textfile-collector output holds the same series and no temp file remains."""
    metrics, _, _ = exposition
    target = tmp_path / "maildrift.prom"
    metrics.write_textfile(str(target))
    assert "maildrift_rule_compliant{" in target.read_text()
    assert sorted(os.listdir(tmp_path)) == ["maildrift.prom", "root"]
