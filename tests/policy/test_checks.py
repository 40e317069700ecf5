"""Each operator's YAML shape and the dataclass it becomes."""

from __future__ import annotations

import pytest

from maildrift.errors import ConfigError
from maildrift.policy import (
    OPERATORS,
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
    Param,
    Predicate,
    Range,
    Section,
    SectionStep,
)
from maildrift.policy.checkparse import PARSERS
from tests.policy.helpers import load_texts, rule_yaml

PF = "postfix"
DC = "dovecot"


def check_of(check: str, scope: str = "postfix:main", params: str = "") -> object:
    text = rule_yaml(check, scope)
    if params:
        text = text.replace("rules:\n", f"params:\n{params}rules:\n", 1)
    return load_texts(text).rules[0].check


def error_of(check: str, scope: str = "postfix:main") -> str:
    with pytest.raises(ConfigError) as err:
        check_of(check, scope)
    return str(err.value)


def test_every_operator_has_a_parser():
    """The operator list and the parser table name the same operators."""
    assert set(PARSERS) == set(OPERATORS)


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        (
            "{param: smtpd_tls_auth_only, equals: yes}",
            Equals(Param(PF, "smtpd_tls_auth_only"), "yes"),
        ),
        (
            "{param: smtpd_tls_auth_only, equals: true}",
            Equals(Param(PF, "smtpd_tls_auth_only"), "yes"),
        ),
        ("{param: queue_minfree, equals: 0}", Equals(Param(PF, "queue_minfree"), "0")),
        (
            "{param: smtpd_tls_protocols, one_of: [a, 'b c', 3, false]}",
            OneOf(Param(PF, "smtpd_tls_protocols"), ("a", "b c", "3", "no")),
        ),
        (
            "{param: smtpd_sasl_security_options, contains_all: 'noanonymous,  noplaintext'}",
            ContainsAll(Param(PF, "smtpd_sasl_security_options"), ("noanonymous", "noplaintext")),
        ),
        (
            "{param: smtpd_tls_protocols, contains_none: [SSLv2, SSLv3]}",
            ContainsNone(Param(PF, "smtpd_tls_protocols"), ("SSLv2", "SSLv3")),
        ),
        (
            "{param: smtpd_client_connection_rate_limit, range: {min: 1, max: 100}}",
            Range(Param(PF, "smtpd_client_connection_rate_limit"), "int", Bound(1), Bound(100)),
        ),
        (
            "{param: message_size_limit, range: {max: '10240000', kind: size}}",
            Range(Param(PF, "message_size_limit"), "size", None, Bound(10240000)),
        ),
        (
            "{param: queue_minfree, range: {min: 30s, max: 2w, kind: time}}",
            Range(Param(PF, "queue_minfree"), "time", Bound(30), Bound(1209600)),
        ),
        (
            "{param: queue_minfree, compare: {op: '>=', other: message_size_limit, "
            "factor: 1.5, kind: size}}",
            Compare(
                Param(PF, "queue_minfree"),
                ">=",
                Param(PF, "message_size_limit"),
                Bound(1.5),
                "size",
            ),
        ),
        (
            "{param: queue_minfree, compare: {op: gt, other: message_size_limit}}",
            Compare(
                Param(PF, "queue_minfree"), ">", Param(PF, "message_size_limit"), Bound(1), "int"
            ),
        ),
        ("{param: relayhost, set: true}", IsSet(Param(PF, "relayhost"))),
        ("{param: relayhost, unset: true}", IsUnset(Param(PF, "relayhost"))),
        ("{param: relayhost, empty: true}", IsEmpty(Param(PF, "relayhost"))),
        ("{param: relayhost, nonempty: true}", IsNonEmpty(Param(PF, "relayhost"))),
        (
            "{path: /etc/postfix/main.cf, file: {owner: root, group: [root, mail], "
            "mode_max: '0644', mode_forbidden: '022'}}",
            FileMeta(
                None, "/etc/postfix/main.cf", ("root",), ("root", "mail"), 0o644, 0o22, "fail"
            ),
        ),
        (
            "{param: smtpd_tls_key_file, file: {owner: 0, mode_max: '0600', missing: pass}}",
            FileMeta(Param(PF, "smtpd_tls_key_file"), None, ("0",), (), 0o600, None, "pass"),
        ),
        (
            "{predicate: tls_cert_matches_key, args: {cert: a.pem, sizes: [1, 2]}}",
            Predicate("tls_cert_matches_key", (("cert", "a.pem"), ("sizes", (1, 2)))),
        ),
        ("{predicate: tls_cert_matches_key}", Predicate("tls_cert_matches_key", ())),
        (
            "{all: [{param: relayhost, unset: true}, {any: [{param: relayhost, empty: true}]}]}",
            AllOf((IsUnset(Param(PF, "relayhost")), AnyOf((IsEmpty(Param(PF, "relayhost")),)))),
        ),
        ("{not: {param: relayhost, set: true}}", Not(IsSet(Param(PF, "relayhost")))),
        (
            "{param: dovecot:auth_mechanisms, contains_none: [plain]}",
            ContainsNone(Param(DC, "auth_mechanisms"), ("plain",)),
        ),
    ],
)
def test_operator_shapes(check, expected):
    """Each operator's YAML becomes the expected frozen dataclass."""
    assert check_of(check) == expected


def test_section_check():
    """A section check nests a check for settings inside Dovecot sections."""
    check = check_of(
        "{section: [service auth, 'unix_listener /var/spool/postfix/private/auth'], "
        "match: any, check: {param: mode, equals: '0660'}}",
        scope="dovecot:global",
    )
    assert check == Section(
        (
            SectionStep("service", "auth"),
            SectionStep("unix_listener", "/var/spool/postfix/private/auth"),
        ),
        Equals(Param(DC, "mode"), "0660"),
        "fail",
        "any",
    )


def test_section_inputs_name_the_section_types():
    """Settings read inside sections are inputs named by the section path."""
    policy = load_texts(
        rule_yaml("{section: service auth, check: {param: user, set: true}}", "dovecot:global")
    )
    assert [str(p) for p in policy.rules[0].inputs] == ["dovecot:service/user"]


def test_policy_params_resolve_in_operands():
    """$name (numeric places) and {param: name} (anywhere) take the policy param's value."""
    params = "  low: 2\n  wait: 1h\n  protos: [TLSv1.2, TLSv1.3]\n"
    check = check_of(
        "{all: [{param: smtpd_client_connection_rate_limit, range: {min: $low}}, "
        "{param: queue_minfree, range: {max: {param: wait}, kind: time}}, "
        "{param: smtpd_tls_protocols, one_of: {param: protos}}]}",
        params=params,
    )
    assert check.checks[0].min == Bound(2, "low")
    assert check.checks[1].max == Bound(3600, "wait")
    assert check.checks[2].values == ("TLSv1.2", "TLSv1.3")


def test_dollar_in_a_text_operand_is_literal():
    """A Postfix value such as $myhostname in equals is a literal, not a param reference."""
    check = check_of("{param: smtpd_banner, equals: '$myhostname ESMTP'}")
    assert check.value == "$myhostname ESMTP"


def test_check_remembers_where_it_was_written():
    """A check's mark points at its operator's line, but does not affect equality."""
    text = rule_yaml("\n      param: relayhost\n      unset: true")
    check = load_texts(text).rules[0].check
    assert (check.at.file, check.at.line) == ("layer0.yaml", 10)
    assert check == IsUnset(Param(PF, "relayhost"))


@pytest.mark.parametrize(
    ("check", "scope", "fragment"),
    [
        ("{param: relayhost}", "postfix:main", "check has no operator"),
        ("{equals: x}", "postfix:main", "a 'equals' check needs 'param'"),
        ("{param: relayhost, equals: [a]}", "postfix:main", "'equals' must be a single value"),
        ("{param: relayhost, one_of: []}", "postfix:main", "'one_of' must not be empty"),
        ("{param: relayhost, contains_all: ' , '}", "postfix:main", "at least one item"),
        ("{param: relayhost, range: {}}", "postfix:main", "range needs 'min', 'max' or both"),
        ("{param: relayhost, range: {mni: 1}}", "postfix:main", "did you mean 'min'?"),
        ("{param: relayhost, range: {min: 1.5}}", "postfix:main", "must be an integer"),
        ("{param: relayhost, range: {min: 5x, kind: time}}", "postfix:main", "a time like"),
        ("{param: relayhost, range: {min: -1, kind: size}}", "postfix:main", "not be negative"),
        ("{param: relayhost, range: {min: 1, kind: bytes}}", "postfix:main", "'kind' must be"),
        ("{param: relayhost, compare: {op: '=>', other: queue_minfree}}", "postfix:main", "'op'"),
        ("{param: relayhost, compare: {op: ge}}", "postfix:main", "compare needs 'other'"),
        (
            "{param: relayhost, compare: {op: ge, other: queue_minfree, factor: 0}}",
            "postfix:main",
            "positive number",
        ),
        ("{param: relayhost, unset: false}", "postfix:main", "for the opposite use 'set'"),
        ("{param: relayhost, path: /x, equals: a}", "postfix:main", "'path' does not go with"),
        ("{file: {owner: root}}", "postfix:main", "exactly one of 'param' or 'path'"),
        ("{path: etc/x, file: {owner: root}}", "postfix:main", "must be absolute"),
        ("{path: /x, file: {missing: pass}}", "postfix:main", "at least one of owner"),
        ("{path: /x, file: {mode_max: '0999'}}", "postfix:main", "octal mode"),
        ("{path: /x, file: {owner: [true]}}", "postfix:main", "user or group name"),
        ("{predicate: nope}", "cross", "unknown predicate 'nope'"),
        ("{predicate: tls_cert_matches_key, args: [a]}", "cross", "'args' must be a mapping"),
        ("{all: []}", "postfix:main", "'all' needs at least one check"),
        ("{any: {param: relayhost, set: true}}", "postfix:main", "'any' must be a list"),
        ("{not: [x]}", "postfix:main", "a check must be a mapping"),
        ("{param: 'bad name', set: true}", "postfix:main", "is not a setting name"),
        ("{param: 'exim:relayhost', set: true}", "postfix:main", "must be postfix or dovecot"),
        ("{param: relayhost, set: true}", "cross", "needs a component"),
        ("{param: relayhost, equals: {param: x, y: 1}}", "postfix:main", "{param: NAME}"),
        (
            "{section: service auth, check: {param: 'postfix:relayhost', set: true}}",
            "dovecot:global",
            "holds only dovecot settings",
        ),
        ("{section: 'Service auth', check: {param: mode, set: true}}", "dovecot:global", "TYPE"),
        ("{section: [], check: {param: mode, set: true}}", "dovecot:global", "at least one"),
        ("{section: service auth}", "dovecot:global", "needs 'check'"),
        (
            "{section: service, check: {param: mode, set: true}, match: some}",
            "dovecot:global",
            "'match' must be one of all, any",
        ),
    ],
)
def test_check_errors(check, scope, fragment):
    """Each malformed check is one ConfigError at layer0.yaml saying what is wrong."""
    message = error_of(check, scope)
    assert message.startswith("layer0.yaml:")
    assert fragment in message


def test_unknown_param_is_accepted_when_the_component_is_not_checked():
    """A component missing from known_params is not checked (e.g. no Dovecot on the host)."""
    from maildrift.policy import load_policy_texts

    text = rule_yaml("{param: anything_goes, set: true}", "dovecot:global")
    policy = load_policy_texts([("p.yaml", text)], {"postfix": {"relayhost"}}, set())
    assert policy.rules[0].check == IsSet(Param(DC, "anything_goes"))
