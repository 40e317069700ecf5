"""Property tests: the Postfix parsers fail only with ConfigError, and agree with postconf."""

from __future__ import annotations

import os
import subprocess
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maildrift.errors import ConfigError
from maildrift.filestore import TreeReader
from maildrift.hostfacts import HostFacts
from maildrift.postfix.defaults import shipped_defaults
from maildrift.postfix.loader import load_postfix
from maildrift.postfix.maincf import parse_main_cf
from maildrift.postfix.mastercf import parse_master_cf
from maildrift.postfix.params import load_param_table
from maildrift.postfix.render import postfix_json
from tests.postfix import realpostconf
from tests.realtools import require_tool

_ALPHABET = st.sampled_from([*list("ab_= \t\n#${}():?,-o1"), "\r", "\x85", "é", "smtp", "inet"])
_TEXT = st.lists(_ALPHABET, max_size=200).map("".join)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_main_cf_parser_raises_only_config_error(text):
    """Arbitrary main.cf text parses, or fails with a ConfigError naming file and line."""
    try:
        parse_main_cf(text, "/etc/postfix/main.cf")
    except ConfigError as exc:
        assert exc.file == "/etc/postfix/main.cf"
        assert exc.line is not None and exc.line >= 1


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_master_cf_parser_raises_only_config_error(text):
    """Arbitrary master.cf text parses, or fails with a ConfigError naming file and line."""
    try:
        parse_master_cf(text, "/etc/postfix/master.cf")
    except ConfigError as exc:
        assert exc.file == "/etc/postfix/master.cf"
        assert exc.line is not None and exc.line >= 1


_NAMES = st.sampled_from(
    [
        "myhostname",
        "smtpd_banner",
        "mydomain",
        "relayhost",
        "smtpd_sasl_security_options",
        "message_size_limit",
        "not_a_param",
        "smtpd_tls_auth_onyl",
        "alias_maps",
    ]
)
_WORD = st.text(alphabet="abcxyz0123456789.,:/-_", min_size=1, max_size=8)
_SPACE = st.sampled_from([" ", "  ", "\t", " \t "])


@st.composite
def main_cf_files(draw):
    """Generated main.cf text: assignments with odd spacing, continuations and comments."""
    lines = []
    for _ in range(draw(st.integers(1, 8))):
        name = draw(_NAMES)
        words = draw(st.lists(_WORD, min_size=0, max_size=3))
        lines.append(f"{name}{draw(_SPACE)}={draw(_SPACE)}{' '.join(words)}{draw(_SPACE)}")
        for _ in range(draw(st.integers(0, 2))):
            filler = draw(st.sampled_from(["", "# comment", "   ", "#"]))
            if filler or draw(st.booleans()):
                lines.append(filler)
            lines.append(f"{draw(_SPACE)}{draw(_WORD)}")
    return "\n".join(lines) + "\n"


@pytest.mark.real
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(main_cf_files())
def test_generated_main_cf_agrees_with_postconf(text):
    """On generated main.cf files, display values and known flags agree with postconf -n."""
    postconf = require_tool("postconf")
    params = load_param_table()
    with tempfile.TemporaryDirectory() as directory:
        for name, body in (("main.cf", text), ("master.cf", "")):
            path = os.path.join(directory, name)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(body)
            os.utime(path, (0, 0))
        try:
            theirs, _stderr = realpostconf.run(postconf, directory, "-n")
        except subprocess.CalledProcessError:
            with pytest.raises(ConfigError):
                load_postfix(
                    directory, TreeReader(), shipped_defaults("3.7"), HostFacts("t"), params
                )
            return
        config = load_postfix(
            directory, TreeReader(), shipped_defaults("3.7"), HostFacts("t"), params
        )
        ours = postfix_json([config])["main"]
    theirs.pop("config_directory")
    assert {n: ours[n]["value"] for n in theirs} == theirs
    assert {n for n, info in ours.items() if not info["known"]} == set(ours) - set(theirs)
