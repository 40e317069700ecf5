"""The engine's generic operators on small policies and trees: every status they can give."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest

from maildrift.engine.evaluate import evaluate
from maildrift.engine.predicates import PREDICATES
from maildrift.loading import load_mail_config
from maildrift.policy import load_policy_texts
from maildrift.policyload import known_params
from maildrift.wiring import build_sources
from tests.policy_samples.sampletree import Sample, build_tree

FACTS = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "policy_samples", "host-facts.yaml"
)
DEMO_MAIN_CF = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "demo", "etc", "postfix", "main.cf"
)
NOW = datetime(2026, 11, 28, tzinfo=timezone.utc)


def verdicts(tmp_path, rules_yaml: str, main_cf_extra: str = "", dovecot_extra: str = ""):
    """Evaluate a one-file policy on the demo tree plus extra lines; rule id -> results."""
    sample = Sample("t")
    if main_cf_extra:
        sample.edits.append(("append", ["/etc/postfix/main.cf"], main_cf_extra.splitlines()))
    if dovecot_extra:
        sample.edits.append(
            ("append", ["/etc/dovecot/conf.d/99-test.conf"], dovecot_extra.splitlines())
        )
    root = build_tree(sample, str(tmp_path / "root"))
    policy = load_policy_texts(
        [("p.yaml", "version: 1\nname: t\nrules:\n" + rules_yaml)], known_params(), set(PREDICATES)
    )
    sources = build_sources(root=root, host_facts=FACTS, postfix_version="3.7")
    report = evaluate(policy, load_mail_config(sources), (), NOW)
    found: dict = {}
    for result in report.results:
        found.setdefault(result.rule, []).append(result)
    return found


def rule(rule_id: str, scope: str, check: str) -> str:
    return (
        f"  - id: {rule_id}\n    title: t\n    severity: low\n    scope: {scope}\n"
        f"    check: {check}\n"
    )


def test_equals_compares_booleans_case_insensitively(tmp_path):
    """equals: yes matches YES and true, as Postfix reads booleans."""
    found = verdicts(
        tmp_path,
        rule("a", "postfix:main", "{param: smtpd_tls_auth_only, equals: 'yes'}"),
        "smtpd_tls_auth_only = TRUE\n",
    )
    assert found["a"][0].status == "pass"


def test_size_with_unit_is_an_error_naming_file_and_line(tmp_path):
    """A size with a unit is an error result at the assignment's file and line."""
    found = verdicts(
        tmp_path,
        rule("a", "postfix:main", "{param: message_size_limit, range: {min: 1, kind: size}}"),
        "message_size_limit = 10M\n",
    )
    result = found["a"][0]
    assert result.status == "error"
    with open(os.path.join(DEMO_MAIN_CF), encoding="utf-8") as handle:
        appended_at = handle.read().count("\n") + 1
    assert result.file == "/etc/postfix/main.cf" and result.line == appended_at
    assert "no size units" in result.message


def test_time_without_unit_takes_the_default_unit(tmp_path):
    """anvil_rate_time_unit = 90 means 90 seconds, the unit of its default."""
    found = verdicts(
        tmp_path,
        rule("a", "postfix:main", "{param: anvil_rate_time_unit, range: {max: 60, kind: time}}"),
        "anvil_rate_time_unit = 90\n",
    )
    assert found["a"][0].status == "fail"


def test_malformed_time_is_an_error(tmp_path):
    """A malformed time (60x) is an error, though postfix check accepts it."""
    found = verdicts(
        tmp_path,
        rule("a", "postfix:main", "{param: anvil_rate_time_unit, range: {max: 60, kind: time}}"),
        "anvil_rate_time_unit = 60x\n",
    )
    assert found["a"][0].status == "error"


def test_set_versus_nonempty(tmp_path):
    """set means explicitly assigned; nonempty looks at the effective value."""
    rules = (
        rule("s", "postfix:main", "{param: smtpd_sasl_tls_security_options, set: true}")
        + rule("n", "postfix:main", "{param: relayhost, nonempty: true}")
        + rule("u", "postfix:main", "{param: relayhost, unset: true}")
    )
    found = verdicts(tmp_path, rules, "smtpd_sasl_tls_security_options =\n")
    assert found["s"][0].status == "pass"
    assert found["n"][0].status == "fail"
    assert found["u"][0].status == "pass"


def test_compare_with_factor(tmp_path):
    """compare: queue_minfree >= 1.5 x message_size_limit."""
    check = (
        "{param: queue_minfree, compare: {op: '>=', other: message_size_limit, "
        "factor: 1.5, kind: size}}"
    )
    low = verdicts(tmp_path / "a", rule("c", "postfix:main", check), "queue_minfree = 100\n")
    assert low["c"][0].status == "fail"
    high = verdicts(tmp_path / "b", rule("c", "postfix:main", check), "queue_minfree = 15360000\n")
    assert high["c"][0].status == "pass"


def test_contains_none_over_list_syntax(tmp_path):
    """contains_none splits commas and whitespace."""
    found = verdicts(
        tmp_path,
        rule("a", "dovecot:global", "{param: auth_mechanisms, contains_none: [anonymous]}"),
        dovecot_extra="auth_mechanisms = plain,login  anonymous\n",
    )
    assert found["a"][0].status == "fail"
    assert found["a"][0].file == "/etc/dovecot/conf.d/99-test.conf"


def test_section_matcher(tmp_path):
    """A section check reaches service auth > unix_listener PATH and reads its mode."""
    check = (
        "{section: ['service auth', 'unix_listener /var/spool/postfix/private/auth'], "
        "check: {param: mode, equals: '0660'}}"
    )
    ok = verdicts(tmp_path / "a", rule("a", "dovecot:global", check))
    assert ok["a"][0].status == "pass"
    missing = (
        "{section: ['service auth', 'unix_listener /nowhere'], "
        "check: {param: mode, equals: '0660'}}"
    )
    gone = verdicts(tmp_path / "b", rule("a", "dovecot:global", missing))
    assert gone["a"][0].status == "fail"


def test_file_metadata(tmp_path):
    """file: mode_forbidden catches a group-writable main.cf."""
    check = "{path: /etc/postfix/main.cf, file: {owner: root, mode_forbidden: '0022'}}"
    sample_root = verdicts(tmp_path / "a", rule("a", "postfix:main", check))
    assert sample_root["a"][0].status == ("pass" if os.geteuid() == 0 else "fail")


def test_one_result_per_scope(tmp_path):
    """A command=smtpd scope yields one result per effective smtpd service."""
    found = verdicts(
        tmp_path,
        rule(
            "a",
            "postfix:command=smtpd",
            "{param: smtpd_tls_security_level, one_of: [may, encrypt]}",
        ),
    )
    assert sorted(r.scope for r in found["a"]) == ["postfix:smtp/inet", "postfix:submission/inet"]


@pytest.mark.parametrize("value,status", [("0", "pass"), ("1", "fail"), ("2", "pass")])
def test_not_combinator(tmp_path, value, status):
    """not inverts pass and fail."""
    found = verdicts(
        tmp_path,
        rule("a", "postfix:main", "{not: {param: header_size_limit, equals: '1'}}"),
        f"header_size_limit = {value}\n",
    )
    assert found["a"][0].status == status
