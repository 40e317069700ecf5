"""Queries on the model: effective values, section lookup, numbers, JSON and text output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maildrift.dovecot import dovecot_number, format_octal, load_dovecot, parse_dovecot, to_json
from maildrift.dovecot.render import render_text
from maildrift.errors import ConfigError
from maildrift.filestore import TreeReader
from tests.dovecot.doveconf_tool import doveconf_value

SAMPLES_24 = Path(__file__).parent / "samples-2.4"

EDGE = """\
ssl_prefer_server_ciphers = no
remote 0.0.0.0/0 {
  ssl_prefer_server_ciphers = yes
  imap_capability = from-zero-net
}
local_name mail.example.com {
  login_greeting = named
}
remote 10.0.0.0/8 {
  disable_plaintext_auth = no
}
protocol imap {
  disable_plaintext_auth = yes
}
"""


@pytest.mark.parametrize(
    ("context", "name", "expected"),
    [
        ({}, "ssl_prefer_server_ciphers", "no"),
        ({"remote": "192.0.2.1"}, "imap_capability", "from-zero-net"),
        ({}, "imap_capability", "from-zero-net"),
        ({"local_name": "MAIL.example.com"}, "login_greeting", "named"),
        ({"local_name": "other.example.com"}, "login_greeting", None),
        ({"remote": "10.1.1.1"}, "disable_plaintext_auth", "no"),
        ({"protocol": "imap"}, "disable_plaintext_auth", "yes"),
    ],
)
def test_edge_filters(context, name, expected):
    """A 0.0.0.0/0 remote acts globally after the root; local_name matches case-insensitively."""
    cfg = parse_dovecot(EDGE, "/e.conf")
    assert cfg.effective_value(name, **context) == expected


def test_query_time_conflict_raises_like_doveconf():
    """Two matching filters, neither containing the other, setting one name is a conflict."""
    cfg = parse_dovecot(EDGE, "/e.conf")
    with pytest.raises(ConfigError, match="Conflict in setting disable_plaintext_auth"):
        cfg.effective("disable_plaintext_auth", protocol="imap", remote="10.1.1.1")


@pytest.mark.real
@pytest.mark.parametrize(
    "context",
    [
        {},
        {"remote": "192.0.2.1"},
        {"protocol": "imap", "remote": "10.1.1.1"},
        {"local_name": "mail.example.com"},
        {"protocol": "pop3"},
    ],
)
def test_edge_filters_agree_with_doveconf(context, doveconf_bin, tmp_path):
    """The edge filters give doveconf's answers, conflicts included."""
    conf = tmp_path / "dovecot.conf"
    conf.write_text(EDGE)
    cfg = parse_dovecot(EDGE, str(conf))
    for name in ("ssl_prefer_server_ciphers", "imap_capability", "disable_plaintext_auth"):
        rc, printed = doveconf_value(doveconf_bin, str(conf), name, context)
        try:
            value = cfg.effective_value(name, **context)
        except ConfigError as exc:
            assert rc != 0 and exc.message in printed
            continue
        assert rc == 0, printed
        if value is not None:
            assert value == printed, (name, context)


def test_effective_rejects_a_bad_address():
    """Asking for a context with a malformed IP is a caller error."""
    with pytest.raises(ValueError, match="not an IP"):
        parse_dovecot("a = 1\n", "f").effective("a", remote="not-an-ip")


def test_host_name_filters_never_match_and_warn():
    """A host name in local/remote is resolved by Dovecot at parse time; here it never matches."""
    cfg = parse_dovecot("remote mail.example.com {\n  ssl = no\n}\n", "f")
    assert cfg.effective("ssl", remote="192.0.2.1") is None
    assert "host name" in cfg.warnings[0].message


def test_sections_lookup_reaches_the_postfix_auth_listener():
    """sections("service", "auth") leads to the unix_listener the policy checks."""
    text = (
        "service auth {\n  unix_listener /var/spool/postfix/private/auth {\n"
        "    mode = 0660\n    user = postfix\n    group = postfix\n  }\n}\n"
    )
    cfg = parse_dovecot(text, "/etc/dovecot/conf.d/10-master.conf")
    (auth,) = cfg.sections("service", "auth")
    listener = auth.find_one("unix_listener", "/var/spool/postfix/private/auth")
    assert {k: v.value for k, v in listener.settings.items()} == {
        "mode": "0660",
        "user": "postfix",
        "group": "postfix",
    }
    assert listener.get("mode").line == 3
    assert cfg.sections("service", "imap") == []


@pytest.mark.parametrize(
    ("text", "number", "printed"),
    [("660", 660, "01224"), ("0660", 0o660, "0660"), ("0", 0, "00"), ("0600", 0o600, "0600")],
)
def test_numbers_as_dovecot_reads_and_prints_them(text, number, printed):
    """Decimal unless a leading 0; doveconf prints octal settings as 0-prefixed octal."""
    assert dovecot_number(text) == number
    assert format_octal(number) == printed


def test_json_has_the_documented_shape():
    """to_json gives config_file, version, files, settings and nested sections."""
    cfg = parse_dovecot("ssl = yes\nprotocol imap {\n  ssl = required\n}\n", "/d.conf")
    data = json.loads(json.dumps(to_json(cfg)))
    assert set(data) >= {"config_file", "version", "files", "settings", "sections"}
    assert data["files"] == [{"path": "/d.conf", "read_path": "/d.conf", "role": "main"}]
    assert data["settings"] == {"ssl": {"value": "yes", "file": "/d.conf", "line": 1}}
    assert data["sections"] == [
        {
            "type": "protocol",
            "name": "imap",
            "defined_at": [{"file": "/d.conf", "line": 2}],
            "settings": {"ssl": {"value": "required", "file": "/d.conf", "line": 3}},
            "sections": [],
        }
    ]


def test_text_rendering_carries_provenance_and_quotes():
    """The renderer prints doveconf-style lines with # file:line, quoting where doveconf does."""
    cfg = parse_dovecot('login_greeting = " hi"\nmailbox "Sent Items" {\n}\n', "/d.conf")
    text = render_text(cfg)
    assert 'login_greeting = " hi"  # /d.conf:1' in text
    assert 'mailbox "Sent Items" {  # /d.conf:2' in text


def test_shipped_24_example_is_recognised_and_read():
    """Dovecot 2.4's shipped example is version 2.4; ssl_server { } gives ssl_server_* names."""
    cfg = load_dovecot(str(SAMPLES_24 / "shipped/dovecot.conf"), TreeReader())
    assert cfg.version == "2.4"
    assert cfg.effective_value("ssl_server_cert_file") == "/etc/dovecot/ssl-cert.pem"
    assert cfg.effective("ssl_server_key_file").line == 49
    assert cfg.sections("passdb", "pam")
    assert [f.role for f in cfg.files] == ["main", "include_try-missing"]


def test_hardened_24_sample_renamed_settings_and_set_syntax():
    """2.4 renamed settings, $SET: self-reference, quoted keys and filters are read."""
    cfg = load_dovecot(str(SAMPLES_24 / "hardened/dovecot.conf"), TreeReader())
    assert cfg.version == "2.4"
    assert cfg.effective_value("auth_allow_cleartext") == "no"
    assert cfg.effective("auth_allow_cleartext").file.endswith("hardened/local.conf")
    assert cfg.effective_value("ssl_server_cert_file") == "/etc/pki/dovecot/certs/dovecot.pem"
    assert cfg.effective_value("ssl_server_key_file") == "/etc/pki/dovecot/private/dovecot.pem"
    assert cfg.get("login_greeting").value == "Mail ready"
    assert cfg.get("postmaster_address").value == "postmaster@$SET:hostname"
    assert cfg.get("login_trusted_networks").value == "127.0.0.1/8"
    assert cfg.effective_value("login_greeting", protocol="imap") == "IMAP ready"
    assert cfg.effective_value("mail_max_userip_connections", remote="192.0.2.7") == "20"
    listener = cfg.section(
        ("service", "auth"), ("unix_listener", "/var/spool/postfix/private/auth")
    )
    assert listener.get("mode").numeric() == 0o660


def test_23_style_dollar_is_literal_in_24():
    """In 2.4 only $SET:KEY self-references expand; a bare $KEY stays as written."""
    cfg = parse_dovecot(
        "dovecot_config_version = 2.4.0\nmail_plugins = $mail_plugins quota\n", "/d.conf"
    )
    assert cfg.get("mail_plugins").value == "$mail_plugins quota"


def test_24_version_must_come_first():
    """dovecot_config_version later than the first setting is fatal."""
    with pytest.raises(ConfigError, match="first setting must be dovecot_config_version"):
        parse_dovecot("ssl = yes\ndovecot_config_version = 2.4.0\n", "/d.conf")
