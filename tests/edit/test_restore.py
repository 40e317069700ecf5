"""The revert planner: only the restore keys go back to the last-known-good values."""

from __future__ import annotations

import pytest

from maildrift.dovecot import load_dovecot
from maildrift.edit.restore import (
    differing_dovecot,
    differing_maincf,
    differing_mastercf,
    dovecot_home,
    restore_dovecot,
    restore_maincf,
    restore_mastercf,
)
from maildrift.edit.surgery import SurgeryImpossible
from maildrift.filestore import TreeReader

# The issue's example: one save changes myhostname, removes noplaintext and sets
# smtpd_tls_auth_only = no.
LKG_MAIN = (
    "# Hardened by the mail team.\n"
    "myhostname = mx1.example.com\n"
    "smtpd_sasl_security_options = noanonymous,\n"
    "    # never allow plaintext\n"
    "    noplaintext\n"
    "smtpd_tls_security_level = may\n"
)
CURRENT_MAIN = (
    "# Hardened by the mail team.\n"
    "myhostname = mx2.example.com\n"
    "smtpd_sasl_security_options = noanonymous\n"
    "smtpd_tls_security_level = may\n"
    "smtpd_tls_auth_only = no\n"
)
HARDENING = ["smtpd_sasl_security_options", "smtpd_tls_auth_only"]


def test_issue_example_keeps_the_new_hostname_and_brings_back_both_settings():
    out = restore_maincf(CURRENT_MAIN, LKG_MAIN, HARDENING, "/etc/postfix/main.cf")
    assert out == (
        "# Hardened by the mail team.\n"
        "myhostname = mx2.example.com\n"
        "smtpd_sasl_security_options = noanonymous,\n"
        "    # never allow plaintext\n"
        "    noplaintext\n"
        "smtpd_tls_security_level = may\n"
    )
    assert restore_maincf(out, LKG_MAIN, HARDENING) == out


def test_only_differing_names_are_touched():
    lkg = "a = 1\n# old comment\nb =\n  2\n"
    current = "a = 1   \n# new comment\nb = 2\nc = 3\n"
    # b's raw value is "2" in both: not touched, although it is written differently.
    assert differing_maincf(current, lkg, ["a", "b", "c", "d"]) == ["c"]
    assert restore_maincf(current, lkg, ["a", "b", "c", "d"]) == "a = 1   \n# new comment\nb = 2\n"


def test_a_name_the_lkg_did_not_set_is_unset_everywhere():
    current = "x = 1\ny = 2\nx = 3\n"
    assert restore_maincf(current, "y = 2\n", ["x"]) == "y = 2\n"


def test_unparsable_files_are_refused():
    with pytest.raises(SurgeryImpossible, match="does not parse"):
        restore_maincf("bad line\n", LKG_MAIN, HARDENING)
    with pytest.raises(SurgeryImpossible, match="last-known-good"):
        restore_maincf(CURRENT_MAIN, "bad line\n", HARDENING)


LKG_MASTER = (
    "smtp      inet  n       -       y       -       -       smtpd\n"
    "submission inet n       -       y       -       -       smtpd\n"
    "  -o syslog_name=postfix/submission\n"
    "  -o smtpd_tls_security_level=encrypt\n"
    "  -o {smtpd_sasl_security_options = noanonymous, noplaintext}\n"
    "  -o smtpd_sasl_auth_enable=yes\n"
)
CURRENT_MASTER = (
    "smtp      inet  n       -       y       -       -       smtpd\n"
    "submission inet n       -       y       -       -       smtpd\n"
    "  -o syslog_name=postfix/sub\n"
    "  -o smtpd_tls_security_level=may\n"
    "  -o smtpd_sasl_auth_enable=yes -o smtpd_tls_auth_only=no\n"
    "  -o smtpd_client_restrictions=permit_sasl_authenticated,reject\n"
)
MASTER_KEYS = [
    ("submission/inet", "smtpd_tls_security_level"),
    ("submission/inet", "smtpd_sasl_security_options"),
    ("submission/inet", "smtpd_tls_auth_only"),
    ("submission/inet", "smtpd_sasl_auth_enable"),
]


def test_master_cf_restore_keeps_the_other_changes():
    assert differing_mastercf(CURRENT_MASTER, LKG_MASTER, MASTER_KEYS) == MASTER_KEYS[:3]
    out = restore_mastercf(CURRENT_MASTER, LKG_MASTER, MASTER_KEYS)
    assert out == (
        "smtp      inet  n       -       y       -       -       smtpd\n"
        "submission inet n       -       y       -       -       smtpd\n"
        "  -o syslog_name=postfix/sub\n"
        "  -o smtpd_tls_security_level=encrypt\n"
        "  -o smtpd_sasl_auth_enable=yes\n"
        "  -o smtpd_client_restrictions=permit_sasl_authenticated,reject\n"
        "  -o {smtpd_sasl_security_options = noanonymous, noplaintext}\n"
    )


def test_master_cf_restore_into_a_deleted_entry_is_impossible():
    current = "smtp      inet  n       -       y       -       -       smtpd\n"
    with pytest.raises(SurgeryImpossible, match="no submission/inet entry"):
        restore_mastercf(current, LKG_MASTER, MASTER_KEYS)


LKG_AUTH = (
    "disable_plaintext_auth = yes\n"
    "auth_mechanisms = plain\n"
    "service auth {\n"
    "  unix_listener /var/spool/postfix/private/auth {\n"
    "    mode = 0660\n"
    "    user = postfix\n"
    "  }\n"
    "}\n"
)
CURRENT_AUTH = (
    "disable_plaintext_auth = no   # testing\n"
    "auth_mechanisms = plain login\n"
    "auth_verbose = yes\n"
    "service auth {\n"
    "  unix_listener /var/spool/postfix/private/auth {\n"
    "    mode = 0666\n"
    "    group = postfix\n"
    "  }\n"
    "}\n"
)
LISTENER_PATH = (("service", "auth"), ("unix_listener", "/var/spool/postfix/private/auth"))


def test_dovecot_restore_in_a_nested_section():
    keys = [((), "disable_plaintext_auth"), (LISTENER_PATH, "mode"), (LISTENER_PATH, "user")]
    assert differing_dovecot(CURRENT_AUTH, LKG_AUTH, keys, "10-auth.conf") == keys
    out = restore_dovecot(CURRENT_AUTH, LKG_AUTH, keys, "10-auth.conf")
    assert out == (
        "disable_plaintext_auth = yes   # testing\n"
        "auth_mechanisms = plain login\n"
        "auth_verbose = yes\n"
        "service auth {\n"
        "  unix_listener /var/spool/postfix/private/auth {\n"
        "    mode = 0660\n"
        "    group = postfix\n"
        "    user = postfix\n"
        "  }\n"
        "}\n"
    )
    out = restore_dovecot(out, LKG_AUTH, [(LISTENER_PATH, "group")], "10-auth.conf")
    assert "group" not in out


def test_dovecot_restore_into_a_deleted_section_is_impossible():
    current = "disable_plaintext_auth = yes\nauth_mechanisms = plain\n"
    with pytest.raises(SurgeryImpossible, match="is not in this file"):
        restore_dovecot(current, LKG_AUTH, [(LISTENER_PATH, "mode")], "10-auth.conf")


def test_dovecot_quoting_alone_is_no_difference():
    keys = [((), "auth_mechanisms")]
    assert differing_dovecot('auth_mechanisms = "plain"\n', LKG_AUTH, keys, "f") == []


def _tree(root, files: dict[str, str]):
    for name, text in files.items():
        path = root / "etc/dovecot" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return load_dovecot("/etc/dovecot/dovecot.conf", TreeReader(str(root)))


MAIN_CONF = "protocols = imap\n!include conf.d/*.conf\n"


def test_dovecot_home_names_the_file_to_edit(tmp_path):
    lkg = _tree(
        tmp_path / "lkg",
        {
            "dovecot.conf": MAIN_CONF,
            "conf.d/10-auth.conf": "auth_mechanisms = plain\n",
            "conf.d/10-ssl.conf": "ssl = required\n",
        },
    )
    current = _tree(
        tmp_path / "now",
        {
            "dovecot.conf": MAIN_CONF,
            "conf.d/10-auth.conf": "auth_mechanisms = plain login\n",
            "conf.d/10-ssl.conf": "",
            "conf.d/99-local.conf": "ssl = yes\n",
        },
    )
    auth = "/etc/dovecot/conf.d/10-auth.conf"
    assert dovecot_home(current, lkg, (), "auth_mechanisms") == auth
    assert dovecot_home(current, lkg, (), "protocols") is None
    assert dovecot_home(current, lkg, (), "nothing") is None
    with pytest.raises(SurgeryImpossible, match=r"moved from .*10-ssl\.conf to .*99-local\.conf"):
        dovecot_home(current, lkg, (), "ssl")


def test_dovecot_home_refuses_a_deleted_section_and_a_second_file(tmp_path):
    lkg = _tree(
        tmp_path / "lkg",
        {"dovecot.conf": MAIN_CONF, "conf.d/10-auth.conf": LKG_AUTH},
    )
    current = _tree(
        tmp_path / "now",
        {
            "dovecot.conf": MAIN_CONF,
            "conf.d/10-auth.conf": "auth_verbose = yes\n",
            "conf.d/20-x.conf": "auth_verbose = no\n",
        },
    )
    with pytest.raises(SurgeryImpossible, match="section service auth / unix_listener"):
        dovecot_home(current, lkg, LISTENER_PATH, "mode")
    with pytest.raises(SurgeryImpossible, match=r"also set in .*10-auth\.conf"):
        dovecot_home(current, lkg, (), "auth_verbose")
    assert dovecot_home(current, lkg, (), "disable_plaintext_auth") == (
        "/etc/dovecot/conf.d/10-auth.conf"
    )
