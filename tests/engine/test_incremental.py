"""Carrying outcomes over between evaluations: the report always equals a full evaluation."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maildrift.engine.evaluate import evaluate
from maildrift.engine.incremental import expanding
from maildrift.loadcache import LoadCache
from maildrift.loading import load_mail_config
from maildrift.policy import load_waivers
from maildrift.policyload import load_site_policy
from maildrift.wiring import build_sources

TOP = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
DEMO = os.path.join(TOP, "demo")
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
POLICY = load_site_policy()

#: Names the shipped policy reads, names their defaults expand, and one nobody knows.
NAMES = [
    "smtpd_sasl_security_options",
    "smtpd_sasl_tls_security_options",
    "smtpd_tls_auth_only",
    "smtpd_tls_security_level",
    "smtpd_sasl_auth_enable",
    "smtpd_client_connection_rate_limit",
    "smtpd_client_connection_limit_exceptions",
    "smtpd_client_event_limit_exceptions",
    "anvil_rate_time_unit",
    "default_process_limit",
    "queue_minfree",
    "message_size_limit",
    "mynetworks",
    "mynetworks_style",
    "myhostname",
    "mydomain",
    "inet_interfaces",
    "smtpd_relay_restrictions",
    "smtpd_tls_cert_file",
    "compatibility_level",
    "my_own_setting",
]
VALUES = [
    "noanonymous",
    "noanonymous, noplaintext",
    "yes",
    "no",
    "encrypt",
    "may",
    "",
    "0",
    "30",
    "60s",
    "2h",
    "10M",
    "127.0.0.0/8",
    "0.0.0.0/0",
    "subnet",
    "loopback-only",
    "$my_own_setting",
    "$(my_own_setting)",
    "${ my_own_setting }",
    "${mydomain}",
    "${smtpd_client_connection_limit_exceptions:$mynetworks}",
    "$myhostname",
    "3.6",
    "/etc/pki/tls/certs/postfix.pem",
    "permit_mynetworks, reject_unauth_destination",
]

_main_set = st.tuples(st.just("main-set"), st.sampled_from(NAMES), st.sampled_from(VALUES))
_main_comment = st.tuples(st.just("main-comment"), st.just(""), st.just(""))
_main_delete = st.tuples(st.just("main-delete"), st.integers(0, 200).map(str), st.just(""))
_override = st.tuples(st.just("master-o"), st.sampled_from(NAMES), st.sampled_from(VALUES))
_dovecot = st.tuples(
    st.just("dovecot"),
    st.sampled_from(["auth_mechanisms", "ssl", "disable_plaintext_auth"]),
    st.sampled_from(["plain login", "plain anonymous", "no", "yes", "required"]),
)
_chmod = st.tuples(st.just("chmod"), st.sampled_from(["644", "666"]), st.just(""))
EDITS = st.lists(
    st.one_of(_main_set, _main_set, _main_comment, _main_delete, _override, _dovecot, _chmod),
    min_size=1,
    max_size=6,
)


def _tree(directory: str, stock: bool) -> str:
    root = os.path.join(directory, "root")
    if stock:
        shutil.copytree(
            os.path.join(TOP, "tests/postfix/corpus/stock-debian"), f"{root}/etc/postfix"
        )
        shutil.copytree(os.path.join(TOP, "tests/dovecot/corpus/stock"), f"{root}/etc/dovecot")
    else:
        shutil.copytree(DEMO, root)
    return root


def _sources(root: str):
    return build_sources(
        root=root, host_facts=os.path.join(DEMO, "host-facts.yaml"), postfix_version="3.7"
    )


def _edit(root: str, kind: str, name: str, value: str) -> None:
    main = os.path.join(root, "etc/postfix/main.cf")
    if kind in ("main-set", "main-comment", "main-delete"):
        with open(main, encoding="utf-8") as handle:
            lines = handle.read().splitlines(keepends=True)
        if kind == "main-set":
            lines.append(f"{name} = {value}\n")
        elif kind == "main-comment":
            lines.insert(0, "# a line that moves every setting down\n")
        elif lines:
            del lines[int(name) % len(lines)]
        with open(main, "w", encoding="utf-8") as handle:
            handle.write("".join(lines))
    elif kind == "master-o":
        with open(os.path.join(root, "etc/postfix/master.cf"), "a", encoding="utf-8") as handle:
            handle.write(f"2525 inet n - y - - smtpd\n  -o {name}={value or 'x'}\n")
    elif kind == "dovecot":
        conf = os.path.join(root, "etc/dovecot/conf.d/99-edit.conf")
        with open(conf, "a", encoding="utf-8") as handle:
            handle.write(f"{name} = {value}\n")
    else:
        os.chmod(main, int(name, 8))


def _same_as_full(sources, cache, previous, waivers=(), now=NOW):
    report = evaluate(
        POLICY, load_mail_config(sources, cache=cache), waivers, now, previous=previous.trace
    )
    full = evaluate(POLICY, load_mail_config(sources), waivers, now)
    assert report == full
    # check's one-shot form, which records nothing, judges the same.
    untraced = evaluate(POLICY, load_mail_config(sources), waivers, now, traced=False)
    assert untraced == full and untraced.trace is None
    return report


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.booleans(), EDITS)
def test_carried_report_equals_full_evaluation(stock, edits):
    """After any sequence of edits, the report with carried outcomes equals a full evaluation."""
    with tempfile.TemporaryDirectory() as directory:
        root = _tree(directory, stock)
        sources, cache = _sources(root), LoadCache()
        report = evaluate(POLICY, load_mail_config(sources, cache=cache), (), NOW)
        for kind, name, value in edits:
            _edit(root, kind, name, value)
            report = _same_as_full(sources, cache, report)


def _start(tmp_path, stock: bool = False):
    root = _tree(str(tmp_path), stock)
    sources, cache = _sources(root), LoadCache()
    return root, sources, cache, evaluate(POLICY, load_mail_config(sources, cache=cache), (), NOW)


def _carried(before, after) -> set[str]:
    return {rule for rule, trace in after.trace.rules.items() if before.trace.rules[rule] is trace}


def test_one_parameter_edit_judges_only_its_readers(tmp_path):
    """Changing the connection rate limit judges its rule again and carries most others over."""
    root, sources, cache, before = _start(tmp_path)
    _edit(root, "main-set", "smtpd_client_connection_rate_limit", "0")
    after = _same_as_full(sources, cache, before)
    carried = _carried(before, after)
    assert "postfix-client-connection-rate-limit" not in carried
    assert "postfix-unknown-parameters" not in carried  # reads every name
    assert "dovecot-auth-mechanisms" in carried
    assert len(carried) >= len(after.trace.rules) - 4
    failing = {r.rule for r in after.results if r.status == "fail"}
    assert "postfix-client-connection-rate-limit" in failing


def test_moved_lines_judge_everything_again(tmp_path):
    """A line inserted at the top moves every setting, so no Postfix outcome is carried over."""
    root, sources, cache, before = _start(tmp_path)
    _edit(root, "main-comment", "", "")
    after = _same_as_full(sources, cache, before)
    assert "postfix-sasl-security-options" not in _carried(before, after)


def test_unchanged_tree_carries_every_rule(tmp_path):
    """Evaluating an unchanged tree again carries every rule's outcomes over."""
    _root, sources, cache, before = _start(tmp_path)
    after = _same_as_full(sources, cache, before)
    assert _carried(before, after) == set(after.trace.rules)


def test_waiver_expiring_between_evaluations(tmp_path):
    """A waiver that expires between two evaluations stops applying to a carried outcome."""
    root = _tree(str(tmp_path), stock=False)
    sources, cache = _sources(root), LoadCache()
    _edit(root, "main-set", "smtpd_client_connection_rate_limit", "0")
    waivers_file = tmp_path / "waivers.yaml"
    waivers_file.write_text(
        "- rule: postfix-client-connection-rate-limit\n"
        "  reason: load test\n  expires: 2026-11-28\n",
        encoding="utf-8",
    )
    waivers = load_waivers(str(waivers_file), {r.id for r in POLICY.rules})
    first = evaluate(POLICY, load_mail_config(sources, cache=cache), waivers, NOW)
    statuses = {r.rule: r.status for r in first.results}
    assert statuses["postfix-client-connection-rate-limit"] == "waived"
    later = datetime(2026, 11, 29, 0, 0, 1, tzinfo=timezone.utc)
    second = _same_as_full(sources, cache, first, waivers, later)
    statuses = {r.rule: r.status for r in second.results}
    assert statuses["postfix-client-connection-rate-limit"] == "fail"


def test_broken_main_cf_and_its_fix(tmp_path):
    """An error in either model judges every rule again, on the way in and on the way out."""
    root, sources, cache, report = _start(tmp_path)
    main = os.path.join(root, "etc/postfix/main.cf")
    with open(main, encoding="utf-8") as handle:
        good = handle.read()
    with open(main, "a", encoding="utf-8") as handle:
        handle.write("this line has no equals sign\n")
    report = _same_as_full(sources, cache, report)
    assert any(r.status == "error" for r in report.results)
    with open(main, "w", encoding="utf-8") as handle:
        handle.write(good)
    report = _same_as_full(sources, cache, report)
    assert not any(r.status == "error" for r in report.results)


def test_expanding_follows_defaults_and_host_defaults(tmp_path):
    """A change of mydomain reaches myhostname (host default) and myorigin (default $myhostname)."""
    root = _tree(str(tmp_path), stock=True)
    config = load_mail_config(_sources(root)).postfix[0]
    found = expanding(config, {"mydomain"})
    assert {"mydomain", "myhostname", "myorigin"} <= found
    assert "smtpd_client_connection_rate_limit" not in found


def test_edit_reaching_a_rule_through_a_default(tmp_path):
    """A name the rule never asks for, but its default expands, judges the rule again."""
    root, sources, cache, before = _start(tmp_path, stock=True)
    _edit(root, "main-set", "mynetworks", "0.0.0.0/0")
    after = _same_as_full(sources, cache, before)
    statuses = {r.rule: r.status for r in after.results}
    assert statuses["postfix-client-event-limit-exceptions"] == "fail"


def test_parenthesised_and_spaced_references_reach_the_rule(tmp_path):
    """$(name) and ${ name } are followed like $name: changing name judges the reader again."""
    for index, form in enumerate(("$(lvl)", "${ lvl }")):
        root, sources, cache, before = _start(tmp_path / str(index))
        _edit(root, "main-set", "lvl", "30")
        _edit(root, "main-set", "smtpd_client_connection_rate_limit", form)
        before = _same_as_full(sources, cache, before)
        _edit(root, "main-set", "lvl", "0")
        after = _same_as_full(sources, cache, before)
        statuses = {r.rule: r.status for r in after.results}
        assert statuses["postfix-client-connection-rate-limit"] == "fail", form
