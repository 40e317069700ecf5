"""Layering: file order, merge by rule id, list replacement, disabling, params, hashes."""

from __future__ import annotations

import os
import shutil

import pytest

from maildrift.errors import ConfigError
from maildrift.policy import Bound, OneOf, Param, PolicySources, load_policy, parse_scope
from maildrift.policy.layering import policy_dir_files
from tests.policy.helpers import (
    KNOWN_PARAMS,
    PREDICATES,
    SAMPLES,
    VENDOR,
    load,
    load_texts,
    rule_yaml,
)

POLICY_DIR = str(SAMPLES / "policies.d")
SITE = str(SAMPLES / "site.yaml")


def layered(*extra: str):
    sources = PolicySources(VENDOR, POLICY_DIR, tuple(extra))
    return load_policy(sources, KNOWN_PARAMS, PREDICATES)


def test_policy_dir_is_read_in_c_locale_order():
    """policies.d files sort bytewise: B.yaml before a.yaml; dotfiles and non-.yaml skipped."""
    names = [os.path.basename(p) for p in policy_dir_files(POLICY_DIR)]
    assert names == ["B.yaml", "a.yaml"]


def test_sources_order_vendor_dir_then_extra():
    """Layering order is the vendor file, policies.d, then --policy files as given."""
    files = PolicySources(VENDOR, POLICY_DIR, (SITE,)).files()
    assert [os.path.basename(f) for f in files] == ["vendor.yaml", "B.yaml", "a.yaml", "site.yaml"]
    assert layered(SITE).sources == files


def test_later_file_wins_in_c_locale_order():
    """a.yaml loads after B.yaml, so its severity wins; B.yaml's other keys survive."""
    rule = layered().rule("postfix-message-size")
    assert rule.severity == "high"
    assert rule.description == "Site limit set by B.yaml."
    assert [os.path.basename(m.file) for m in rule.sources] == ["vendor.yaml", "B.yaml", "a.yaml"]
    assert os.path.basename(rule.source_of("severity").file) == "a.yaml"
    assert os.path.basename(rule.source_of("title").file) == "vendor.yaml"
    assert (rule.file, rule.line) == (VENDOR, 50)


def test_missing_policy_dir_has_no_files(tmp_path):
    """A policies.d that does not exist contributes nothing."""
    assert policy_dir_files(str(tmp_path / "absent")) == []
    assert PolicySources(VENDOR, str(tmp_path / "absent")).files() == (VENDOR,)


def test_policy_dir_that_is_a_file_is_an_error():
    """A policies.d path that is not a directory is a ConfigError naming it."""
    with pytest.raises(ConfigError) as err:
        policy_dir_files(VENDOR)
    assert err.value.file == VENDOR


def test_order_follows_bytes_not_locale(tmp_path):
    """Names sort by their bytes: upper case, then '_', then lower case, then non-ASCII."""
    for name in ["b.yaml", "_x.yaml", "Z.yaml", "a.yaml", "é.yaml", "10.yaml", "9.yaml"]:
        (tmp_path / name).write_text("")
    names = [os.path.basename(p) for p in policy_dir_files(str(tmp_path))]
    assert names == ["10.yaml", "9.yaml", "Z.yaml", "_x.yaml", "a.yaml", "b.yaml", "é.yaml"]


def test_param_override_reaches_every_reference():
    """A params override changes every bound that references the param."""
    assert load(VENDOR).rule("postfix-message-size").check.max == Bound(
        52428800, "max_message_size"
    )
    assert layered().rule("postfix-message-size").check.max == Bound(104857600, "max_message_size")
    assert os.path.basename(layered().param_sources["max_message_size"].file) == "B.yaml"


def test_disable_and_add_rules():
    """An override disables a rule by id and appends a new rule after the vendor's."""
    policy = layered()
    assert policy.rule("postfix-banner-set").disabled
    assert "postfix-banner-set" not in [r.id for r in policy.active_rules]
    assert policy.rules[-1].id == "site-smtputf8"
    assert len(policy.rules) == 16


def test_lists_are_replaced_and_mappings_merged():
    """A list (scope) is replaced whole; a mapping (range) merges key by key."""
    policy = layered(SITE)
    assert policy.rule("dovecot-ssl-min-protocol").scopes == (parse_scope("dovecot:global"),)
    check = policy.rule("postfix-message-size").check
    assert check.min == Bound(1)
    assert check.max == Bound(209715200)
    assert check.kind == "size"


def test_null_removes_a_key_to_swap_an_operator():
    """Setting the old operator to null lets an override use another operator."""
    check = layered(SITE).rule("postfix-tls-auth-only").check
    assert check == OneOf(Param("postfix", "smtpd_tls_auth_only"), ("yes",))


def test_swapping_an_operator_without_null_is_explained(tmp_path):
    """Adding a second operator names both files' lines and the null remedy."""
    override = tmp_path / "o.yaml"
    override.write_text("rules:\n  - id: postfix-tls-auth-only\n    check: {one_of: [yes]}\n")
    with pytest.raises(ConfigError) as err:
        load(VENDOR, override)
    assert (err.value.file, err.value.line) == (str(override), 3)
    assert f"'equals' ({VENDOR}:34)" in err.value.message
    assert "setting the old one to null" in err.value.message


def test_error_in_override_points_at_the_override(tmp_path):
    """A bad value written by an override is reported in the override file."""
    override = tmp_path / "o.yaml"
    override.write_text("rules:\n  - id: postfix-connection-rate\n    severity: urgent\n")
    with pytest.raises(ConfigError) as err:
        load(VENDOR, override)
    assert (err.value.file, err.value.line) == (str(override), 3)


def test_override_of_unknown_rule_explains_itself(tmp_path):
    """Overriding an id no earlier file defines reads as a new, incomplete rule."""
    override = tmp_path / "o.yaml"
    override.write_text("rules:\n  - id: postfix-banner-sett\n    disabled: true\n")
    with pytest.raises(ConfigError) as err:
        load(VENDOR, override)
    assert (err.value.file, err.value.line) == (str(override), 2)
    assert "no earlier policy file defines 'postfix-banner-sett'" in err.value.message


def test_unknown_key_in_override_is_refused(tmp_path):
    """Override files are checked on their own for unknown keys."""
    override = tmp_path / "o.yaml"
    override.write_text("params: {}\nrules:\n  - id: postfix-connection-rate\n    disable: true\n")
    with pytest.raises(ConfigError, match="did you mean 'disabled'") as err:
        load(VENDOR, override)
    assert err.value.line == 4


def test_same_id_twice_across_files_is_an_override_not_a_duplicate():
    """The same id in two files merges; only a repeat within one file is an error."""
    base = rule_yaml("{param: relayhost, set: true}")
    policy = load_texts(base, "rules:\n  - id: r1\n    severity: high\n")
    assert policy.rules[0].severity == "high"


def test_empty_override_changes_nothing(tmp_path):
    """An empty override file leaves the policy and its hash as they were."""
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    assert load(VENDOR, empty).sha256 == load(VENDOR).sha256


def test_same_merged_content_same_hash(tmp_path):
    """One file holding the merged result hashes like the layered files."""
    text = (SAMPLES / "vendor.yaml").read_text()
    edits = [
        ("  max_message_size: 52428800\n", "  max_message_size: 104857600\n"),
        (
            "    title: Message size is bounded\n    severity: low\n",
            "    title: Message size is bounded\n    severity: high\n"
            "    description: Site limit set by B.yaml.\n",
        ),
        (
            "    check: {param: smtpd_banner, set: true}\n",
            "    check: {param: smtpd_banner, set: true}\n    disabled: true\n",
        ),
    ]
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    added = (SAMPLES / "policies.d" / "a.yaml").read_text()
    merged = tmp_path / "merged.yaml"
    merged.write_text(text + added[added.index("  - id: site-smtputf8") :])
    assert load(merged).sha256 == layered().sha256


def test_different_content_different_hash():
    """Each layer that changes meaning changes the hash; layering order matters."""
    hashes = {load(VENDOR).sha256, layered().sha256, layered(SITE).sha256}
    assert len(hashes) == 3


def test_order_of_overrides_changes_the_result(tmp_path):
    """Applying the same two overrides in the other order gives the other winner."""
    first = tmp_path / "1.yaml"
    second = tmp_path / "2.yaml"
    first.write_text("rules:\n  - id: postfix-connection-rate\n    severity: high\n")
    second.write_text("rules:\n  - id: postfix-connection-rate\n    severity: info\n")
    assert load(VENDOR, first, second).rule("postfix-connection-rate").severity == "info"
    assert load(VENDOR, second, first).rule("postfix-connection-rate").severity == "high"


def test_policy_dir_layering_from_a_copy(tmp_path):
    """A copied policies.d layers the same as the original (no dependence on location)."""
    copy = tmp_path / "policies.d"
    shutil.copytree(POLICY_DIR, copy)
    sources = PolicySources(VENDOR, str(copy))
    assert load_policy(sources, KNOWN_PARAMS, PREDICATES).sha256 == layered().sha256


def test_override_may_rename_and_describe_the_policy(tmp_path):
    """Top-level scalars are replaced by later files; version must stay 1."""
    override = tmp_path / "o.yaml"
    override.write_text("name: acme-mail\ndescription: ACME's tightened baseline\nversion: 1\n")
    policy = load(VENDOR, override)
    assert (policy.name, policy.description) == ("acme-mail", "ACME's tightened baseline")
