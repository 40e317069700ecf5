"""Loading single policy files: the sample policy, and one clear error per mistake."""

from __future__ import annotations

import dataclasses
import json

import pytest

from maildrift.errors import ConfigError
from maildrift.policy import (
    Equals,
    FileMeta,
    Param,
    Reference,
    SetFile,
    SetSection,
    SetValue,
    canonical_json,
    parse_scope,
    policy_to_canonical,
)
from tests.policy.helpers import SAMPLES, VENDOR, expected_error, load, load_texts, rule_yaml

BAD = sorted((SAMPLES / "bad").glob("*.yaml"))


def test_vendor_sample_loads_every_rule_in_order():
    """The sample vendor policy loads with its metadata and its rules in file order."""
    policy = load(VENDOR)
    assert policy.name == "rhel-mail-baseline"
    assert policy.version == 1
    assert policy.references == (Reference("rhel-guide", "2.10", "Mail server software"),)
    assert policy.rules[0].id == "postfix-sasl-noanonymous"
    assert policy.rules[-1].id == "cross-sasl-path"
    assert len(policy.rules) == 15
    assert policy.sources == (VENDOR,)
    assert len(policy.sha256) == 64


def test_rule_fields():
    """A rule keeps every documented field, with defaults for the optional ones."""
    rule = load(VENDOR).rule("postfix-sasl-noanonymous")
    assert rule.title == "SMTP AUTH refuses anonymous mechanisms"
    assert rule.severity == "high"
    assert rule.references[1] == Reference("stig", "RHEL-08-040290")
    assert rule.scopes == (parse_scope("postfix:main"), parse_scope("postfix:command=smtpd"))
    assert rule.inputs == (Param("postfix", "smtpd_sasl_security_options"),)
    assert rule.remediation == SetValue(
        Param("postfix", "smtpd_sasl_security_options"), "noanonymous, noplaintext"
    )
    assert rule.enforce is True
    assert rule.disabled is False
    assert (rule.file, rule.line) == (VENDOR, 14)
    assert str(rule.source_of("severity")) == f"{VENDOR}:17"
    other = load(VENDOR).rule("postfix-tls-auth-only")
    assert (other.description, other.enforce, other.remediation) == ("", False, None)


def test_remediation_shapes():
    """A remediation is a parameter value, Dovecot section settings, or file metadata."""
    policy = load(VENDOR)
    assert policy.rule("postfix-main-cf-mode").remediation == SetFile(
        None, "/etc/postfix/main.cf", 0o644, "root", "root"
    )
    section = policy.rule("dovecot-auth-listener").remediation
    assert isinstance(section, SetSection)
    assert section.settings == (("group", "postfix"), ("mode", "0660"), ("user", "postfix"))
    assert policy.rule("dovecot-ssl-min-protocol").remediation == SetValue(
        Param("dovecot", "ssl_min_protocol"), "TLSv1.2"
    )


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_broken_policy_is_one_error_at_the_marked_line(path):
    """Each broken sample is refused with one message naming its file and the marked line."""
    line, fragment = expected_error(path)
    with pytest.raises(ConfigError) as err:
        load(path)
    assert err.value.file == str(path)
    assert err.value.line == line, str(err.value)
    assert fragment in err.value.message, str(err.value)


def test_every_error_kind_has_a_sample():
    """The bad samples cover each error kind the issue lists."""
    names = {p.stem for p in BAD}
    assert {
        "unknown_top_key",
        "unknown_rule_key",
        "unknown_operator",
        "wrong_type",
        "duplicate_rule_id",
        "duplicate_key",
        "unknown_param",
        "yaml_syntax",
    } <= names


def test_remediation_errors():
    """A remediation of the wrong shape is refused at its line."""
    cases = [
        ("    remediation: {param: relayhost}\n", "needs 'value', 'section'"),
        (
            "    remediation: {param: relayhost, value: x, mode: '0600'}\n",
            "unknown value remediation",
        ),
        ("    remediation: {section: service auth, settings: {mode: '0600'}}\n", "dovecot: ones"),
        ("    remediation: {path: /x, param: relayhost, mode: '0600'}\n", "exactly one of"),
        ("    remediation: {param: relayhst, value: x}\n", "did you mean 'relayhost'?"),
        ("    remediation: {path: /x, mode: 600}\n", 'e.g. "0600"'),
    ]
    for extra, fragment in cases:
        with pytest.raises(ConfigError) as err:
            load_texts(rule_yaml("{param: relayhost, set: true}", extra=extra))
        assert (err.value.file, err.value.line) == ("layer0.yaml", 8), extra
        assert fragment in err.value.message, extra


def test_disabled_rule_may_name_settings_this_host_lacks():
    """A disabled rule is still parsed, but its setting names are not checked."""
    text = rule_yaml("{param: no_such_setting, set: true}", extra="    disabled: true\n")
    rule = load_texts(text).rules[0]
    assert rule.disabled
    assert load_texts(text).active_rules == ()


def test_disabled_rule_is_still_validated():
    """Disabling does not excuse a malformed check."""
    text = rule_yaml("{param: relayhost, sett: true}", extra="    disabled: true\n")
    with pytest.raises(ConfigError, match="unknown check operator 'sett'"):
        load_texts(text)


def test_inputs_are_derived_when_not_declared():
    """Without 'inputs', a rule's inputs are what its check reads, in order, once each."""
    rule = load(VENDOR).rule("postfix-queue-minfree")
    assert [str(p) for p in rule.inputs] == ["postfix:queue_minfree", "postfix:message_size_limit"]
    assert [str(p) for p in load(VENDOR).rule("postfix-main-cf-mode").inputs] == [
        "file:/etc/postfix/main.cf"
    ]


@pytest.mark.parametrize(
    ("inputs", "fragment"),
    [
        ("[exim:relayhost]", "must be postfix:NAME, dovecot:NAME or file:PATH"),
        ("[postfix:relayhst]", "did you mean 'relayhost'?"),
        ("['postfix:a/relayhost']", "Postfix parameter names have no '/'"),
        ("['file:etc/x']", "must be absolute"),
        ("[dovecot:service/modd]", "did you mean 'mode'?"),
    ],
)
def test_bad_inputs(inputs, fragment):
    """Declared inputs use the component:name notation and known names."""
    text = rule_yaml("{param: relayhost, set: true}", extra=f"    inputs: {inputs}\n")
    with pytest.raises(ConfigError) as err:
        load_texts(text)
    assert err.value.line == 8
    assert fragment in err.value.message


def test_missing_top_level_keys_and_params():
    """A policy without version is refused; params must be named values or lists."""
    with pytest.raises(ConfigError, match="policy has no 'version'"):
        load_texts("name: t\nrules: []\n")
    with pytest.raises(ConfigError, match="must be lower-case") as err:
        load_texts("version: 1\nname: t\nparams:\n  Bad-Name: 1\n")
    assert err.value.line == 4
    with pytest.raises(ConfigError, match="not a mapping") as err:
        load_texts("version: 1\nname: t\nparams:\n  p:\n    q: 1\n")
    assert err.value.line == 5
    with pytest.raises(ConfigError, match="rule has no 'id'") as err:
        load_texts("version: 1\nname: t\nrules:\n  - title: x\n")
    assert err.value.line == 4


def test_policy_without_rules_is_allowed():
    """A policy with no rules loads (an empty baseline is not an error)."""
    assert load_texts("version: 1\nname: t\n").rules == ()


def test_canonical_form_loads_back_to_the_same_hash():
    """The canonical JSON is itself a policy file that hashes the same."""
    policy = load(VENDOR)
    again = load_texts(canonical_json(policy))
    assert again.sha256 == policy.sha256

    def unordered(rule):
        # Canonical form sorts scopes and inputs; a rule keeps them as written.
        return dataclasses.replace(
            rule, scopes=sorted(rule.scopes, key=str), inputs=sorted(rule.inputs, key=str)
        )

    assert {r.id: unordered(r) for r in again.rules} == {r.id: unordered(r) for r in policy.rules}


def test_canonical_form_strips_provenance_and_normalises():
    """Canonical data has no files or lines, qualified names, octal modes, sorted rules."""
    data = policy_to_canonical(load(VENDOR))
    text = json.dumps(data)
    assert "vendor.yaml" not in text
    rules = {r["id"]: r for r in data["rules"]}
    assert [r["id"] for r in data["rules"]] == sorted(rules)
    assert rules["postfix-main-cf-mode"]["check"]["file"]["mode_max"] == "0644"
    assert rules["postfix-tls-auth-only"]["check"] == {
        "param": "postfix:smtpd_tls_auth_only",
        "equals": "yes",
    }
    assert rules["postfix-connection-rate"]["check"]["range"] == {
        "kind": "int",
        "min": "$min_connection_rate",
    }


def test_sha256_ignores_spelling_but_not_meaning():
    """Equivalent spellings hash alike; any change of meaning changes the hash."""
    base = load_texts(rule_yaml("{param: smtpd_tls_auth_only, equals: yes}")).sha256
    same = load_texts(
        "# another spelling\n" + rule_yaml("{equals: true, param: 'postfix:smtpd_tls_auth_only'}")
    ).sha256
    changed = load_texts(rule_yaml("{param: smtpd_tls_auth_only, equals: no}")).sha256
    assert base == same
    assert base != changed


def test_check_dataclasses_are_frozen():
    """Loaded checks and rules cannot be changed by the engine."""
    rule = load(VENDOR).rule("postfix-tls-auth-only")
    assert isinstance(rule.check, Equals)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.check.value = "no"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.severity = "info"  # type: ignore[misc]
    assert isinstance(load(VENDOR).rule("postfix-tls-key-mode").check, FileMeta)


def test_load_policy_needs_a_file():
    """Loading nothing is a programming error, not a policy error."""
    with pytest.raises(ValueError):
        load()
