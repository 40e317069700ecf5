"""The scope grammar: parsing, canonical spelling, refusals, and globs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maildrift.errors import ConfigError
from maildrift.policy.scope import Scope, glob_match, parse_scope


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postfix:main", Scope("postfix", "main")),
        ("postfix@postfix-out:main", Scope("postfix", "main", "postfix-out")),
        ("postfix:submission/inet", Scope("postfix", "service", None, "submission", "inet")),
        ("postfix:[::1]:10025/inet", Scope("postfix", "service", None, "[::1]:10025", "inet")),
        (
            "postfix:127.0.0.1:smtp/inet",
            Scope("postfix", "service", None, "127.0.0.1:smtp", "inet"),
        ),
        ("postfix:*/unix", Scope("postfix", "service", None, "*", "unix")),
        ("postfix:smtp*/*", Scope("postfix", "service", None, "smtp*", "*")),
        ("postfix:postlog/unix-dgram", Scope("postfix", "service", None, "postlog", "unix-dgram")),
        ("postfix:command=smtpd", Scope("postfix", "command", None, "smtpd")),
        ("postfix@b:command=smtpd", Scope("postfix", "command", "b", "smtpd")),
        ("dovecot:global", Scope("dovecot", "global")),
        ("dovecot:protocol=imap", Scope("dovecot", "protocol", name="imap")),
        ("dovecot:protocol=!indexer-worker", Scope("dovecot", "protocol", name="!indexer-worker")),
        ("dovecot:local=10.0.0.0/8", Scope("dovecot", "local", name="10.0.0.0/8")),
        ("dovecot:remote=192.0.2.7", Scope("dovecot", "remote", name="192.0.2.7")),
        ("dovecot:remote=*", Scope("dovecot", "remote", name="*")),
        (
            "dovecot:local_name=mail.example.com",
            Scope("dovecot", "local_name", name="mail.example.com"),
        ),
        ("cross", Scope("cross", "cross")),
    ],
)
def test_good_scopes_parse_and_print_back(text, expected):
    """Each scope form parses to its dataclass and prints back unchanged."""
    scope = parse_scope(text)
    assert scope == expected
    assert str(scope) == text


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("dovecot:remote=2001:DB8::/32", "dovecot:remote=2001:db8::/32"),
        ("dovecot:local=192.0.2.7/32", "dovecot:local=192.0.2.7"),
        ("dovecot:local_name=Mail.Example.COM", "dovecot:local_name=mail.example.com"),
    ],
)
def test_scopes_are_canonicalised(text, canonical):
    """Networks and host names print in one canonical spelling."""
    assert str(parse_scope(text)) == canonical


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "must start with postfix:"),
        ("postfix", "must start with postfix:"),
        ("Postfix:main", "did you mean 'postfix'?"),
        ("postfx:main", "did you mean 'postfix'?"),
        ("crosss", "did you mean 'cross'?"),
        ("postfix:", "expected main, SERVICE/TYPE or command=COMMAND"),
        ("postfix:smtp", "e.g. postfix:smtp/inet"),
        ("postfix:smtp/inett", "unknown service type 'inett' (did you mean 'inet'?)"),
        ("postfix:/inet", "bad service name ''"),
        ("postfix:a b/inet", "bad service name 'a b'"),
        ("postfix:smtp/IN*", "bad service type pattern"),
        ("postfix@:main", "bad instance name ''"),
        ("postfix@a b:main", "bad instance name"),
        ("postfix:command=", "bad command name ''"),
        ("dovecot@x:global", "Dovecot scopes have no @instance"),
        ("dovecot:protocl=imap", "did you mean 'protocol'?"),
        ("dovecot:globl", "did you mean 'global'?"),
        ("dovecot:protocol=IMAP", "bad protocol name"),
        ("dovecot:local=10.1.2.3/8", "host bits set (did you mean '10.0.0.0/8'?)"),
        ("dovecot:remote=mail.example.com", "not an IP address, a network or *"),
        ("dovecot:local_name=-bad-", "bad host name"),
    ],
)
def test_bad_scopes_are_refused_with_a_reason(text, fragment):
    """A malformed scope is a ConfigError quoting the scope and saying what is wrong."""
    with pytest.raises(ConfigError) as err:
        parse_scope(text, "rules.yaml", 12)
    assert (err.value.file, err.value.line) == ("rules.yaml", 12)
    assert f"scope {text!r}" in err.value.message
    assert fragment in err.value.message


def test_is_pattern():
    """Globs and command scopes name several places; exact scopes do not."""
    assert parse_scope("postfix:*/inet").is_pattern
    assert parse_scope("postfix:command=smtpd").is_pattern
    assert not parse_scope("postfix:smtp/inet").is_pattern
    assert not parse_scope("dovecot:protocol=imap").is_pattern


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("postfix:*/inet", "postfix:smtp/inet", True),
        ("postfix:*/inet", "postfix:smtp/unix", False),
        ("postfix:[::1]:25/inet", "postfix:[::1]:25/inet", True),
        ("postfix:[::1]:25/inet", "postfix:1:25/inet", False),
        ("postfix@postfix-*:*", "postfix@postfix-out:main", True),
        ("postfix@postfix-*:*", "postfix:main", False),
        ("dovecot:protocol=imap?", "dovecot:protocol=imaps", True),
        ("dovecot:protocol=imap?", "dovecot:protocol=imap", False),
        ("Postfix:*", "postfix:main", False),
    ],
)
def test_glob_match(pattern, text, matches):
    """Globs know * and ?, keep brackets literal, and are case-sensitive."""
    assert glob_match(pattern, text) is matches


_service = st.from_regex(r"[a-z0-9.:\[\]-]{1,12}", fullmatch=True)


@given(
    instance=st.one_of(st.none(), st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)),
    service=_service,
    service_type=st.sampled_from(["inet", "unix", "unix-dgram", "fifo", "pass", "*"]),
)
def test_service_scopes_round_trip(instance, service, service_type):
    """Any well-formed service scope prints back to text that parses to the same scope."""
    scope = Scope("postfix", "service", instance, service, service_type)
    assert parse_scope(str(scope)) == scope


@given(st.text(alphabet="*?ab:/", max_size=8), st.text(alphabet="ab:/", max_size=8))
def test_glob_without_wildcards_is_equality(pattern, text):
    """A pattern with no * or ? matches exactly itself."""
    if "*" not in pattern and "?" not in pattern:
        assert glob_match(pattern, text) is (pattern == text)
    assert glob_match("*", text)
