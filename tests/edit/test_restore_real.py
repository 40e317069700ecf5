"""Surgical restores checked with the real postconf and doveconf.

After each restore the real tool must see the current configuration, except
that the restored keys have the last-known-good values.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from maildrift.edit.restore import restore_dovecot, restore_maincf, restore_mastercf
from tests.dovecot.doveconf_tool import doveconf_flat, doveconf_value
from tests.edit.test_restore import CURRENT_AUTH, LISTENER_PATH, LKG_AUTH
from tests.postfix import realpostconf

pytestmark = pytest.mark.real

CORPUS = Path(__file__).parent.parent / "postfix" / "corpus"


def _postfix_dir(root: Path, tag: str, main: str, master: str = "") -> str:
    directory = root / tag
    directory.mkdir()
    for name, text in (("main.cf", main), ("master.cf", master)):
        path = directory / name
        path.write_text(text)
        # Postfix pauses 1.5 s on a main.cf written within the last second.
        os.utime(path, (0, 0))
    return str(directory)


def _postconf(postconf: str, root: Path, tag: str, flag: str, main: str, master: str = ""):
    values, _stderr = realpostconf.run(postconf, _postfix_dir(root, tag, main, master), flag)
    values.pop("config_directory", None)
    return values


def expected_after(current: dict, lkg: dict, restored: set) -> dict:
    """What a tool must show after a restore: current values, the LKG's for ``restored``."""
    expected = {k: v for k, v in current.items() if k not in restored}
    expected.update({k: v for k, v in lkg.items() if k in restored})
    return expected


CONTINUATION = (CORPUS / "continuation" / "main.cf").read_text()

MAIN_CASES = {
    "issue-example": (
        "myhostname = mx1.example.com\n"
        "smtpd_sasl_security_options = noanonymous,\n"
        "    # never allow plaintext\n"
        "    noplaintext\n",
        "myhostname = mx2.example.com\n"
        "smtpd_sasl_security_options = noanonymous\n"
        "smtpd_tls_auth_only = no\n",
        ["smtpd_sasl_security_options", "smtpd_tls_auth_only"],
    ),
    "continuations": (
        CONTINUATION,
        CONTINUATION.replace("permit_mynetworks", "permit_mynetworks permit")
        .replace("localhost.$mydomain,", "localhost.$mydomain, example.net,")
        .replace("message_size_limit=20480000", "message_size_limit=1\nrelayhost = [gw]")
        + "smtpd_banner = shadowing\n",
        ["smtpd_recipient_restrictions", "message_size_limit", "smtpd_banner", "relayhost"],
    ),
    "duplicates-and-crlf": (
        "a_param = 1\r\nmyhostname = x\r\nmydomain = example.com\r\n",
        "myhostname = y\r\nmydomain = example.org\r\nmyhostname = z\r\n\tzz\r\nb = 2",
        ["myhostname", "a_param", "b"],
    ),
    "no-final-newline": (
        "smtpd_tls_auth_only = yes\nmynetworks = 127.0.0.0/8",
        "mynetworks = 0.0.0.0/0\nsmtpd_tls_auth_only = no",
        ["mynetworks", "smtpd_tls_auth_only"],
    ),
}


@pytest.mark.parametrize("case", sorted(MAIN_CASES))
def test_postconf_n_sees_lkg_values_for_restored_names_only(case, postconf_bin, tmp_path):
    lkg_text, current_text, names = MAIN_CASES[case]
    result = restore_maincf(current_text, lkg_text, names, "/etc/postfix/main.cf")
    lkg = _postconf(postconf_bin, tmp_path, "lkg", "-n", lkg_text)
    current = _postconf(postconf_bin, tmp_path, "current", "-n", current_text)
    after = _postconf(postconf_bin, tmp_path, "after", "-n", result)
    assert after == expected_after(current, lkg, set(names))
    assert lkg != current


LKG_MASTER = (CORPUS / "long-form-o" / "master.cf").read_text()
CURRENT_MASTER = (
    LKG_MASTER.replace("  -o { smtpd_sasl_security_options = noanonymous, noplaintext }\n", "")
    .replace("smtpd_tls_security_level=encrypt", "smtpd_tls_security_level=may")
    .replace("syslog_name=postfix/submission", "syslog_name=postfix/sub")
    .replace("smtpd_tls_wrappermode=yes", "smtpd_tls_wrappermode=yes -o smtpd_tls_auth_only=no")
    .replace("  -o smtp_helo_timeout=5 -o smtp_connect_timeout=5\n", "  -o smtp_helo_timeout=9\n")
    + "pipe      unix  -       n       n       -       -       pipe\n"
    + "  flags=R user=nobody argv=/bin/cat\n"
)
MASTER_KEYS = [
    ("submission/inet", "smtpd_sasl_security_options"),
    ("submission/inet", "smtpd_tls_security_level"),
    ("smtps/inet", "smtpd_tls_auth_only"),
    ("relay/unix", "smtp_connect_timeout"),
    ("pipe/unix", "smtp_connect_timeout"),
]


def test_postconf_P_sees_lkg_overrides_for_restored_keys_only(postconf_bin, tmp_path):
    lkg_master = LKG_MASTER + (
        "pipe      unix  -       n       n       -       -       pipe\n"
        "  flags=R user=nobody argv=/bin/cat\n"
    )
    lkg_master = lkg_master.replace("pipe\n  flags", "pipe -o smtp_connect_timeout=7\n  flags")
    result = restore_mastercf(CURRENT_MASTER, lkg_master, MASTER_KEYS, "/etc/postfix/master.cf")
    run = {}
    for tag, text in (("lkg", lkg_master), ("current", CURRENT_MASTER), ("after", result)):
        run[tag] = _postconf(postconf_bin, tmp_path, tag, "-P", "", text)
    restored = {f"{key}/{name}" for key, name in MASTER_KEYS}
    assert run["after"] == expected_after(run["current"], run["lkg"], restored)
    assert run["after"]["pipe/unix/smtp_connect_timeout"] == "7"
    assert run["after"]["submission/inet/syslog_name"] == "postfix/sub"
    # The pipe entry's own arguments are still the command's.
    lines = realpostconf.run_lines(postconf_bin, str(tmp_path / "after"), "-M", "pipe/unix")
    assert lines[0].endswith("pipe -o smtp_connect_timeout=7 flags=R user=nobody argv=/bin/cat")


LKG_DOVECOT = {
    "dovecot.conf": "protocols = imap pop3\n!include conf.d/*.conf\n",
    "conf.d/10-auth.conf": LKG_AUTH
    + "protocol imap {\n  mail_max_userip_connections = \\\n    20\n}\n",
}
CURRENT_DOVECOT = {
    "dovecot.conf": "protocols = imap\n!include conf.d/*.conf\n",
    "conf.d/10-auth.conf": CURRENT_AUTH
    + "protocol imap {\n  mail_max_userip_connections = 50\n}\n",
}
DOVECOT_KEYS = [
    ((), "disable_plaintext_auth"),
    (LISTENER_PATH, "mode"),
    (LISTENER_PATH, "user"),
    (LISTENER_PATH, "group"),
    ((("protocol", "imap"),), "mail_max_userip_connections"),
]


def flat_key(path, name) -> tuple[str, ...]:
    """A (section path, name) restore key as doveconf_flat() names it (protocol filters only)."""
    segments = [
        f"filter:{kind} {value}" if kind == "protocol" else f"{kind} {value}"
        for kind, value in path
    ]
    return (*segments, name)


def _dovecot_tree(root: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(root / "dovecot.conf")


def test_doveconf_sees_lkg_settings_for_restored_keys_only(doveconf_bin, tmp_path):
    name = "conf.d/10-auth.conf"
    result = dict(CURRENT_DOVECOT)
    result[name] = restore_dovecot(
        CURRENT_DOVECOT[name], LKG_DOVECOT[name], DOVECOT_KEYS, f"/etc/dovecot/{name}"
    )
    confs = {
        tag: _dovecot_tree(tmp_path / tag, files)
        for tag, files in (("lkg", LKG_DOVECOT), ("current", CURRENT_DOVECOT), ("after", result))
    }
    flat = {tag: doveconf_flat(doveconf_bin, conf) for tag, conf in confs.items()}
    restored = {flat_key(path, key) for path, key in DOVECOT_KEYS}
    assert flat["after"] == expected_after(flat["current"], flat["lkg"], restored)
    assert flat["after"][("protocols",)] == "imap"
    code, value = doveconf_value(
        doveconf_bin, confs["after"], "mail_max_userip_connections", {"protocol": "imap"}
    )
    assert (code, value) == (0, "20")
    assert "mail_max_userip_connections = \\\n    20\n" in result[name]
    assert doveconf_value(doveconf_bin, confs["after"], "disable_plaintext_auth", {}) == (0, "yes")
