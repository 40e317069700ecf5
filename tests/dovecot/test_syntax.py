"""Line syntax: what config_parse_line() accepts, and the fatal errors, with file and line."""

from __future__ import annotations

import re

import pytest

from maildrift.dovecot import lex_dovecot, parse_dovecot
from maildrift.errors import ConfigError
from tests.dovecot.doveconf_tool import run_doveconf

# (text, message, line): each is fatal in doveconf 2.3.19 with this message at this line.
FATAL = [
    ("service auth {}\n", "Garbage after '{'", 1),
    ("imap_capability\n", "Expecting '{'", 1),
    ("service auth extra {\n}\n", "Expecting '{'", 1),
    ("}\n", "Unexpected '}'", 1),
    ("service auth {\n} x\n", "Expecting '{'", 2),
    ("{\n}\n", "Expecting '{'", 1),
    ("= x\n", "Missing key name ('=' at the beginning of line)", 1),
    ("imap_capability = a \\\n\n  b\n", "Expecting '{'", 3),
    ("protocol imap {\n  remote 1.2.3.4 {\n  }\n}\n", "protocol { remote { .. } } not allowed", 2),
    ("protocol imap {\n  local 1.2.3.4 {\n  }\n}\n", "protocol { local { .. } } not allowed", 2),
    ("remote 1.2.3.4 {\n  local 1.2.3.4 {\n  }\n}\n", "remote { local { .. } } not allowed", 2),
    ("protocol imap {\n  protocol pop3 {\n  }\n}\n", "Nested protocol { protocol", 2),
    ("remote 10.0.0.0/33 {\n}\n", "Invalid network mask: 33", 1),
    ("remote 10.0.0.0/8 {\n  remote 192.0.2.0/24 {\n  }\n}\n", "requires net2 to be inside", 2),
    ("remote 10.0.0.0/8 {\n  auth_mechanisms = plain\n}\n", "Auth settings not supported", 2),
    ("local 127.0.0.1 {\n  passdb {\n  }\n}\n", "Auth settings not supported", 2),
    ("passdb foo {\n  driver = pam\n}\npassdb foo {\n}\n", "passdb/foo already exists", 4),
    ("plugin {\n  sub {\n  }\n}\n", "Section not allowed here", 2),
    ("service auth {\n", "Missing '}' (section started at", 1),
]


@pytest.mark.parametrize(("text", "message", "line"), FATAL)
def test_fatal_lines_raise_config_error_with_file_and_line(text, message, line):
    """Each doveconf-fatal input raises ConfigError naming the file and the line."""
    with pytest.raises(ConfigError) as info:
        parse_dovecot(text, "/etc/dovecot/dovecot.conf")
    assert message in info.value.message
    assert (info.value.file, info.value.line) == ("/etc/dovecot/dovecot.conf", line)


@pytest.mark.real
@pytest.mark.parametrize(("text", "message", "line"), FATAL)
def test_real_doveconf_calls_the_same_inputs_fatal(text, message, line, doveconf_bin, tmp_path):
    """The real doveconf is fatal on each of those inputs, with the same message and line."""
    conf = tmp_path / "dovecot.conf"
    conf.write_text(text)
    out = run_doveconf(doveconf_bin, "-c", str(conf), "-n")
    assert out.returncode == 89, out.stdout
    assert message in out.stderr
    if "Missing '}'" in message:
        assert f"section started at {conf}:{line}" in out.stderr
    else:
        assert re.search(rf"line {line}: ", out.stderr), out.stderr


def test_value_columns_allow_in_place_rewrite():
    """A one-line setting knows the columns of its value in the raw line."""
    (stmt,) = lex_dovecot("    mode = 0666   # world\n", "f")
    assert stmt.raw_value == "0666"
    line = stmt.raw_lines[0]
    rewritten = line[: stmt.value_start] + "0660" + line[stmt.value_end :]
    assert rewritten == "    mode = 0660   # world"


def test_key_without_spaces_and_empty_values():
    """key=value needs no spaces; key = (nothing) is an empty value."""
    cfg = parse_dovecot("mail_location=maildir:~/M\nimap_capability =\n", "f")
    assert cfg.get("mail_location").value == "maildir:~/M"
    assert cfg.get("imap_capability").value == ""


def test_hash_without_space_is_a_comment_with_a_warning():
    """a#b is cut at # like doveconf, which warns about the ambiguity."""
    cfg = parse_dovecot("imap_capability = a#b\n", "f")
    assert cfg.get("imap_capability").value == "a"
    assert "Ambiguous '#'" in cfg.warnings[0].message


def test_quoted_values_unescape_and_lone_quote_is_empty():
    """Quotes are removed and backslash escapes undone; a value of one quote is empty."""
    cfg = parse_dovecot(
        'imap_capability = "a\\\\\\"b"\nimap_id_log = "x" y\nlogin_greeting = "\n', "f"
    )
    assert cfg.get("imap_capability").value == 'a\\"b'
    assert cfg.get("imap_id_log").value == '"x" y'
    assert cfg.get("login_greeting").value == ""


def test_variables_rejoin_tokens_with_single_spaces():
    """A value with $ is split at spaces and re-joined with one, tabs kept inside tokens."""
    cfg = parse_dovecot("a = x   $y\tz  w\n", "f")
    assert cfg.get("a").value == "x $y\tz w"


def test_continuation_lines_join_with_one_space():
    """Backslash continues a line; indentation of the next line is dropped."""
    cfg = parse_dovecot("a = \\\n\\\n   x \\\n y\n", "f")
    setting = cfg.get("a")
    assert (setting.value, setting.line, setting.end_line) == ("x y", 1, 4)
    assert len(setting.raw_lines) == 4


def test_crlf_lines_lose_their_carriage_return():
    """CRLF files parse like LF files."""
    cfg = parse_dovecot("ssl = no\r\nservice auth {\r\n}\r\n", "f")
    assert cfg.get("ssl").value == "no"
    assert cfg.sections("service", "auth")


def test_empty_quoted_section_name_is_an_unnamed_list_item():
    """An empty quoted name is numbered like an unnamed section."""
    cfg = parse_dovecot('namespace "" {\n  prefix = a/\n}\nnamespace {\n  prefix = b/\n}\n', "f")
    assert [s.value("prefix") for s in cfg.sections("namespace")] == ["a/", "b/"]


def test_filter_inside_a_service_is_kept_but_not_evaluated():
    """doveconf accepts protocol { } inside a service; it stays there with a warning."""
    cfg = parse_dovecot("service auth {\n  protocol imap {\n    user = x\n  }\n}\n", "f")
    inner = cfg.section(("service", "auth"), ("protocol", "imap"))
    assert inner.get("user").value == "x"
    assert cfg.effective("user", protocol="imap") is None
    assert "not evaluated" in cfg.warnings[0].message
