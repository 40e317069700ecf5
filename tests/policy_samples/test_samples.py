"""One generated test per sample tree: each annotated verdict holds under maildrift check."""

from __future__ import annotations

import glob
import os
from datetime import datetime, timezone

import pytest

from maildrift.engine.evaluate import evaluate
from maildrift.loading import load_mail_config
from maildrift.policyload import load_site_policy
from maildrift.wiring import build_sources
from tests.policy_samples.sampletree import build_tree, load_sample

SAMPLES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "samples", "*.sample")))
FACTS = os.path.join(os.path.dirname(__file__), "host-facts.yaml")
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def policy():
    """The shipped policy, loaded once."""
    return load_site_policy()


def judge(root: str, policy):
    sources = build_sources(root=root, host_facts=FACTS, postfix_version="3.7")
    return evaluate(policy, load_mail_config(sources), (), NOW)


@pytest.mark.parametrize("path", SAMPLES, ids=[os.path.basename(p) for p in SAMPLES])
def test_sample_verdicts(path, policy, tmp_path):
    """The sample's annotated verdicts are what check reports."""
    sample = load_sample(path)
    report = judge(build_tree(sample, str(tmp_path / "root")), policy)
    got = {(r.rule, r.scope): r for r in report.results}
    for want in sample.expectations:
        result = got.get((want.rule, want.scope))
        status = result.status if result else "no result"
        detail = f"{result.actual} / {result.message}" if result else ""
        assert status == want.status, f"{want.rule} {want.scope}: {status} ({detail})"


def test_every_shipped_rule_has_a_passing_and_a_failing_sample(policy):
    """Each rule of the shipped policy is shown passing and failing by some sample."""
    seen = set()
    for path in SAMPLES:
        for want in load_sample(path).expectations:
            seen.add((want.rule, want.status))
    missing = [
        f"{rule.id}:{status}"
        for rule in policy.rules
        for status in ("pass", "fail")
        if (rule.id, status) not in seen
    ]
    assert not missing, "rules without samples: " + ", ".join(missing)


def test_demo_tree_passes_everything(policy, tmp_path):
    """The bundled demo tree is fully hardened: no fail or error."""
    from tests.policy_samples.sampletree import Sample

    report = judge(build_tree(Sample("demo"), str(tmp_path / "root")), policy)
    bad = [(r.rule, r.scope, r.actual) for r in report.results if r.status in ("fail", "error")]
    assert not bad
