"""The corpus of hard cases, checked against what the real doveconf was seen to print."""

from __future__ import annotations

from pathlib import Path

import pytest

from maildrift.dovecot import load_dovecot, to_json
from maildrift.errors import ConfigError
from maildrift.filestore import TreeReader

CORPUS = Path(__file__).parent / "corpus"
AUTH_SOCKET = "/var/spool/postfix/private/auth"


def load(case: str, **kwargs):
    return load_dovecot(str(CORPUS / case / "dovecot.conf"), TreeReader(), **kwargs)


def rel(path: str, case: str) -> str:
    return str(Path(path).relative_to(CORPUS / case))


def test_globbed_includes_follow_sorted_and_brace_order():
    """Glob matches are read sorted, brace alternatives in written order; later wins."""
    cfg = load("globs")
    assert cfg.get("auth_mechanisms").value == "plain login"
    assert rel(cfg.get("auth_mechanisms").file, "globs") == "conf.d/20-auth.conf"
    # {20-b,10-a}: 10-a is read last although it sorts first.
    assert cfg.get("login_greeting").value == "from-a"
    assert cfg.get("mail_max_userip_connections").value == "7"
    included = [rel(f.path, "globs") for f in cfg.files if f.role == "include"]
    assert included == [
        "conf.d/10-auth.conf",
        "conf.d/20-auth.conf",
        "extra/20-b.conf",
        "extra/10-a.conf",
        "extra/30-c.ext",
    ]
    assert "conf.d/README" not in included


def test_include_globs_are_exposed_for_the_watcher():
    """Every !include pattern is on the model, resolved against the including file."""
    cfg = load("globs")
    patterns = [(rel(g.pattern, "globs"), g.optional, g.line) for g in cfg.include_globs]
    assert patterns == [
        ("conf.d/*.conf", False, 3),
        ("extra/{20-b,10-a}.conf", False, 4),
        ("extra/[0-9][0-9]-*.ext", True, 5),
    ]
    assert to_json(cfg)["include_globs"][0]["pattern"].endswith("conf.d/*.conf")


def test_include_try_of_missing_files_is_recorded_not_fatal():
    """Missing !include_try targets are listed with role include_try-missing."""
    cfg = load("include-try")
    missing = sorted(f.path for f in cfg.files if f.role == "include_try-missing")
    assert missing == sorted(
        [
            str(CORPUS / "include-try" / "missing.conf"),
            str(CORPUS / "include-try" / "nothing/*.conf"),
            "/nonexistent-maildrift-dir/*.conf",
        ]
    )
    assert cfg.get("ssl").value == "yes"
    assert [s.value for s in cfg.root.shadowed("ssl")] == ["no"]


def test_local_conf_overrides_and_merges_the_auth_listener():
    """local.conf wins for settings and merges into the conf.d service auth listener."""
    cfg = load("local-override")
    assert cfg.get("disable_plaintext_auth").value == "yes"
    assert rel(cfg.get("disable_plaintext_auth").file, "local-override") == "local.conf"
    listener = cfg.section(("service", "auth"), ("unix_listener", AUTH_SOCKET))
    assert listener.get("mode").value == "0660"
    assert listener.get("mode").numeric() == 0o660
    assert [s.value for s in listener.shadowed("mode")] == ["0666"]
    assert [rel(loc.file, "local-override") for loc in listener.defined_at] == [
        "conf.d/10-master.conf",
        "local.conf",
    ]
    assert [p.get("driver").value for p in cfg.sections("passdb")] == ["pam"]


def test_one_section_split_across_files_is_one_section():
    """A section opened in one file and closed in another, and repeated, merges."""
    cfg = load("split-section")
    (auth,) = cfg.sections("service", "auth")
    assert len(auth.defined_at) == 2
    (listener,) = auth.find("unix_listener", AUTH_SOCKET)
    assert {k: s.value for k, s in listener.settings.items()} == {
        "mode": "0660",
        "user": "postfix",
        "group": "postfix",
    }
    assert rel(listener.get("mode").file, "split-section") == "auth-listener.conf"
    (submission,) = cfg.sections("service", "submission-login")
    assert rel(submission.get("process_min_avail").file, "split-section") == (
        "open-submission.conf"
    )
    assert rel(submission.get("process_limit").file, "split-section") == "dovecot.conf"
    assert rel(submission.ends_at[0].file, "split-section") == "dovecot.conf"


@pytest.mark.parametrize(
    ("context", "name", "expected"),
    [
        ({}, "disable_plaintext_auth", "yes"),
        ({"remote": "10.9.9.9"}, "disable_plaintext_auth", "no"),
        ({"remote": "10.1.2.3"}, "disable_plaintext_auth", "yes"),
        ({"remote": "2001:db8::5"}, "disable_plaintext_auth", "no"),
        ({"remote": "::ffff:10.9.9.9"}, "disable_plaintext_auth", "no"),
        ({"protocol": "imap"}, "mail_max_userip_connections", "20"),
        ({"protocol": "pop3"}, "mail_max_userip_connections", "3"),
        ({"protocol": "lmtp"}, "login_greeting", "not-imap"),
        ({"protocol": "imap"}, "login_greeting", "global"),
        ({"protocol": "imap", "local": "127.0.0.1"}, "login_greeting", "loopback-imap"),
        ({"protocol": "imap", "remote": "192.0.2.9"}, "imap_capability", "+XMAILDRIFT"),
        ({"protocol": "imap"}, "imap_idle_notify_interval", "5 mins"),
    ],
)
def test_filters_give_the_effective_value_per_connection(context, name, expected):
    """protocol/local/remote filters apply over global as doveconf -f … -h says."""
    assert load("filters").effective_value(name, **context) == expected


def test_filters_are_sections_and_repeated_filters_merge():
    """Filters appear as protocol/local/remote sections; a repeated filter merges."""
    cfg = load("filters")
    (imap,) = cfg.sections("protocol", "imap")
    assert [loc.line for loc in imap.defined_at] == [5, 35]
    assert sorted(imap.settings) == ["imap_idle_notify_interval", "mail_max_userip_connections"]
    (remote,) = cfg.sections("remote", "192.0.2.0/24")
    assert remote.find_one("protocol", "imap").get("imap_capability").line == 23
    types = [s["type"] for s in to_json(cfg)["sections"]]
    assert set(types) == {"protocol", "remote", "local"}


def test_self_reference_expands_and_other_names_stay_literal():
    """$KEY in KEY's value expands to the value so far; other $names are kept."""
    cfg = load("self-reference", defaults={"login_greeting": "Dovecot ready."})
    assert cfg.get("auth_mechanisms").value == "plain login"
    assert cfg.get("login_greeting").value == "Dovecot ready. Welcome"
    assert cfg.get("postmaster_address").value == "postmaster@$myhostname"
    imap = cfg.effective("mail_plugins", protocol="imap")
    assert imap.value == " quota acl $other x$mail_plugins imap_quota imap_acl"
    assert cfg.effective_value("mail_plugins", protocol="lmtp") == "$mail_plugins sieve"
    assert cfg.get("mail_plugins").value == "zlib"
    assert any("Global setting mail_plugins" in w.message for w in cfg.warnings)


def test_self_reference_without_known_default_warns():
    """Without defaults, $KEY of an unset KEY starts from empty and says so."""
    cfg = load("self-reference")
    assert cfg.get("login_greeting").value == " Welcome"
    assert any("login_greeting's default" in w.message for w in cfg.warnings)


@pytest.mark.parametrize(
    ("listener", "written", "number"),
    [(AUTH_SOCKET, "660", 660), ("auth-userdb", "0600", 0o600), ("auth-master", "600", 600)],
)
def test_modes_are_decimal_unless_they_start_with_zero(listener, written, number):
    """mode = 660 is decimal 660 (octal 1224), only a leading 0 means octal."""
    section = load("modes").section(("service", "auth"), ("unix_listener", listener))
    assert section.get("mode").value == written
    assert section.get("mode").numeric() == number


def test_syntax_case_quotes_comments_continuations_and_lists():
    """Quoted values, comments, continuations, CRLF files and list sections parse as doveconf."""
    cfg = load("syntax")
    assert cfg.get("imap_capability").value == "IMAP4rev1 # not a comment"
    assert cfg.get("login_greeting").value == "it's ready"
    assert cfg.get("imap_logout_format").value == "in=%i out=%o"
    fmt = cfg.get("pop3_logout_format")
    assert (fmt.value, fmt.line, fmt.end_line, fmt.value_start) == (
        "top=%t/%p retr=%r/%b del=%d/%m",
        5,
        7,
        None,
    )
    assert cfg.get("mail_attribute_dict").value == " padded"
    assert cfg.get("mail_privileged_group").value == "mail"
    assert [p.name for p in cfg.sections("passdb")] == [None, None, "ldap"]
    assert len(cfg.sections("plugin")) == 1
    (inbox,) = cfg.sections("namespace", "inbox")
    assert inbox.find_one("mailbox", "Sent Messages").get("special_use").value == "\\Sent"
    login = cfg.sections("service", "imap-login")[0]
    assert [s.name for s in login.find("inet_listener")] == [None, None, "imap"]
    assert login.find_one("inet_listener", "imap").get("address").value == "127.0.0.1"


def test_value_files_are_recorded_not_read():
    """<file values are kept as doveconf prints them and listed with role value-file."""
    cfg = load("value-files")
    assert cfg.get("ssl_key").value == "<certs/server.key"
    assert cfg.get("ssl_ca").value == "<ca.pem"
    value_files = [f.path for f in cfg.files if f.role == "value-file"]
    base = CORPUS / "value-files"
    assert value_files == [
        "/etc/dovecot/maildrift-missing-cert.pem",
        str(base / "certs/server.key"),
        str(base / "ca.pem"),
    ]


def test_stock_tree_loads_with_every_file_listed():
    """The stock Debian tree loads; its includes and roles are all listed."""
    cfg = load("stock")
    roles = {}
    for entry in cfg.files:
        roles.setdefault(entry.role, []).append(entry.path)
    assert len(roles["main"]) == 1
    assert len(roles["include"]) == 13
    assert "/usr/share/dovecot/protocols.d/*.protocol" in roles["include_try-missing"]
    assert cfg.get("ssl_cert").value == "</etc/dovecot/private/dovecot.pem"
    assert cfg.sections("passdb")[0].get("driver").value == "pam"
    assert cfg.sections("protocol", "!indexer-worker")


@pytest.mark.parametrize(
    "case", sorted(p.name for p in CORPUS.iterdir() if (p / "dovecot.conf").is_file())
)
def test_every_value_has_provenance(case):
    """Every setting in every case points at a real line of a listed file."""
    cfg = load(case)
    paths = {f.path for f in cfg.files}
    for section in cfg.root.walk():
        for setting in section.history:
            assert setting.file in paths
            lines = Path(setting.file).read_text().split("\n")
            assert lines[setting.line - 1].rstrip("\r") == setting.raw_lines[0].rstrip("\r")


def test_conflicting_filters_are_fatal_like_doveconf(tmp_path):
    """A remote+protocol block and a protocol block setting one name is doveconf's conflict."""
    conf = tmp_path / "dovecot.conf"
    conf.write_text(
        "protocol imap {\n  mail_max_userip_connections = 20\n}\n"
        "remote 192.0.2.0/24 {\n  protocol imap {\n    mail_max_userip_connections = 50\n"
        "  }\n}\n"
    )
    with pytest.raises(ConfigError, match="Conflict in setting mail_max_userip_connections"):
        load_dovecot(str(conf), TreeReader())
