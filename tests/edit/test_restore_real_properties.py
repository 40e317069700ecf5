"""Generated master.cf and Dovecot restores, checked with the real postconf -P and doveconf -N.

Entries are unique per service/type here: for a duplicated entry postconf -P
merges both entries' overrides, while master (and the model, and the restore)
uses the last entry alone (see tests/postfix/test_postconf_agreement.py).
"""

from __future__ import annotations

import os
import re
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maildrift.edit.restore import restore_dovecot, restore_mastercf
from maildrift.edit.surgery import SurgeryImpossible
from tests.dovecot.doveconf_tool import doveconf_flat
from tests.edit.test_restore_real import expected_after, flat_key
from tests.postfix import realpostconf
from tests.realtools import require_tool

pytestmark = pytest.mark.real

_EXAMPLES = settings(max_examples=40, deadline=None)


# -- master.cf -------------------------------------------------------------------

O_NAMES = ["syslog_name", "smtpd_tls_auth_only", "smtpd_tls_security_level"]
SERVICES = [("smtp/inet", "smtpd"), ("submission/inet", "smtpd"), ("p/unix", "pipe")]
_WORD = st.text(alphabet="abcxyz019.,:/-_", min_size=1, max_size=5)


@st.composite
def _override(draw) -> str:
    name = draw(st.sampled_from(O_NAMES))
    words = draw(st.lists(_WORD, max_size=2))
    if len(words) < 2 and draw(st.booleans()):
        return f"{name}={''.join(words)}"
    pad = st.sampled_from(["", " "])
    inner = f"{draw(pad)}{name}{draw(pad)}={draw(pad)}{' '.join(words)}{draw(pad)}"
    if draw(st.integers(0, 4)) == 0:
        inner = inner.replace("=", "=\n   ", 1)  # a long form continued on the next line
    return "{" + inner + "}"


@st.composite
def master_cf_texts(draw) -> str:
    lines: list[str] = []
    for key, command in draw(st.lists(st.sampled_from(SERVICES), max_size=3, unique=True)):
        service, kind = key.split("/")
        lines.append(f"{service} {kind} n - n - - {command}")
        for _ in range(draw(st.integers(0, 3))):
            where = draw(st.sampled_from(["same line", "own line", "split"]))
            if where == "same line":
                lines[-1] += f" -o {draw(_override())}"
            elif where == "own line":
                lines.append(f"{draw(st.sampled_from(['  ', chr(9)]))}-o {draw(_override())}")
            else:
                lines[-1] += " -o"
                lines.append(f"   {draw(_override())}")
            if draw(st.integers(0, 5)) == 0:
                lines.append(draw(st.sampled_from(["# c", "", "  # x"])))
        if command == "pipe" and draw(st.booleans()):
            lines.append("  flags=R argv=/bin/x")
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return newline.join(lines) + (newline if draw(st.booleans()) else "")


def _postconf(text: str) -> tuple[dict[str, str], list[str]]:
    postconf = require_tool("postconf")
    with tempfile.TemporaryDirectory() as directory:
        for name, body in (("main.cf", ""), ("master.cf", text)):
            path = os.path.join(directory, name)
            with open(path, "w", encoding="utf-8", newline="") as handle:
                handle.write(body)
            os.utime(path, (0, 0))
        values, _stderr = realpostconf.run(postconf, directory, "-P")
        entries = realpostconf.run_lines(postconf, directory, "-M")
    return values, [re.sub(r" -o (\{[^}]*\}|\S+)", "", line) for line in entries]


_MASTER_KEYS = st.lists(
    st.tuples(st.sampled_from([key for key, _ in SERVICES]), st.sampled_from(O_NAMES)),
    unique=True,
)


@_EXAMPLES
@given(master_cf_texts(), master_cf_texts(), _MASTER_KEYS)
def test_postconf_P_agrees_on_generated_master_cf_restores(lkg_text, current_text, keys):
    try:
        result_text = restore_mastercf(current_text, lkg_text, keys)
    except SurgeryImpossible as exc:
        assert exc.reason.startswith("no ")  # an entry the LKG had is gone
        return
    lkg, _ = _postconf(lkg_text)
    current, current_entries = _postconf(current_text)
    result, result_entries = _postconf(result_text)
    restored = {f"{key}/{name}" for key, name in keys}
    assert result == expected_after(current, lkg, restored)
    # Every entry's fields and non-override words are the current ones.
    assert result_entries == current_entries


# -- Dovecot -------------------------------------------------------------------

LISTENER = ("unix_listener", "/var/spool/postfix/private/auth")
TABLES = {
    (): {
        "auth_mechanisms": ["plain", "plain login", '"login"'],
        "disable_plaintext_auth": ["yes", "no"],
        "login_greeting": ["hi", '"hello there"', "x \\\n  y"],
    },
    (("service", "auth"),): {"user": ["root", "nobody"], "client_limit": ["10", "20"]},
    (("service", "auth"), LISTENER): {
        "mode": ["0600", "0660", "0666"],
        "user": ["root", "nobody"],
    },
    (("protocol", "imap"),): {"mail_max_userip_connections": ["5", "7 \\\n   ", "9  # c"]},
}


@st.composite
def _settings(draw, path, indent: str) -> list[str]:
    table = TABLES[path]
    lines = []
    for name in draw(st.lists(st.sampled_from(sorted(table)), max_size=3)):
        if draw(st.integers(0, 4)) == 0:
            lines.append(indent + draw(st.sampled_from(["# c", "", "#"])))
        lines.append(f"{indent}{name} = {draw(st.sampled_from(table[name]))}")
    return lines


@st.composite
def dovecot_texts(draw) -> str:
    auth = (("service", "auth"),)
    lines = draw(_settings((), ""))
    if draw(st.booleans()):
        lines += ["service auth {", *draw(_settings(auth, "  "))]
        if draw(st.booleans()):
            lines.append(f"  unix_listener {LISTENER[1]} {{")
            lines += [*draw(_settings((*auth, LISTENER), "\t\t")), "  }"]
        lines += [*draw(_settings(auth, "  ")), "}"]
    if draw(st.booleans()):
        imap = (("protocol", "imap"),)
        lines += ["protocol imap {", *draw(_settings(imap, "    ")), "}"]
    lines += draw(_settings((), ""))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return newline.join(lines) + newline


def _doveconf(text: str) -> dict[tuple[str, ...], str]:
    with tempfile.TemporaryDirectory() as directory:
        os.mkdir(os.path.join(directory, "conf.d"))
        main = os.path.join(directory, "dovecot.conf")
        with open(main, "w", encoding="utf-8") as handle:
            handle.write("protocols = imap\n!include conf.d/x.conf\n")
        with open(os.path.join(directory, "conf.d/x.conf"), "w", newline="") as handle:
            handle.write(text)
        return doveconf_flat(require_tool("doveconf"), main)


_DOVECOT_KEYS = st.lists(
    st.sampled_from([(path, name) for path, table in TABLES.items() for name in table]),
    unique=True,
)


@_EXAMPLES
@given(dovecot_texts(), dovecot_texts(), _DOVECOT_KEYS)
def test_doveconf_agrees_on_generated_dovecot_restores(lkg_text, current_text, keys):
    try:
        result_text = restore_dovecot(current_text, lkg_text, keys, "/etc/dovecot/conf.d/x.conf")
    except SurgeryImpossible as exc:
        assert "is not in this file" in exc.reason  # a section the LKG set a key in is gone
        return
    lkg, current = _doveconf(lkg_text), _doveconf(current_text)
    restored = {flat_key(path, name) for path, name in keys}
    assert _doveconf(result_text) == expected_after(current, lkg, restored)
