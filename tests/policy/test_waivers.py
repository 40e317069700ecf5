"""Waivers: loading, expiry at the end of the UTC day, scope matching, refusals."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from maildrift.errors import ConfigError
from maildrift.policy import load_waivers, match_waiver
from maildrift.policy.waivers import parse_waivers
from tests.policy.helpers import SAMPLES, expected_error

WAIVERS = str(SAMPLES / "waivers.yaml")
BAD = sorted((SAMPLES / "bad_waivers").glob("*.yaml"))
UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_sample_waivers_load():
    """Each waiver keeps rule, canonical scope, reason, date, file and line."""
    waivers = load_waivers(WAIVERS)
    assert len(waivers) == 4
    first = waivers[0]
    assert (first.rule, first.scope, first.reason) == (
        "postfix-tls-auth-only",
        "postfix:submission/inet",
        "legacy scanner, OPS-1234",
    )
    assert first.expires == date(2025, 6, 30)
    assert (first.file, first.line) == (WAIVERS, 2)
    assert waivers[2].scope is None


def test_valid_through_the_last_second_of_the_day_utc():
    """A waiver holds at 23:59:59 UTC on its date and is expired one second later."""
    waivers = load_waivers(WAIVERS)
    last = at("2025-06-30T23:59:59")
    match = match_waiver(waivers, "postfix-tls-auth-only", "postfix:submission/inet", last)
    assert match is not None and match.expired is False
    later = match_waiver(
        waivers, "postfix-tls-auth-only", "postfix:submission/inet", last + timedelta(seconds=1)
    )
    assert later is not None and later.expired is True
    assert later.as_dict()["expired"] is True


def test_expiry_uses_utc_whatever_the_caller_zone():
    """The same instant in another zone gives the same answer."""
    waivers = load_waivers(WAIVERS)
    tokyo = timezone(timedelta(hours=9))
    instant = datetime(2025, 7, 1, 8, 59, 59, tzinfo=tokyo)  # 23:59:59 UTC on the 30th
    assert not match_waiver(
        waivers, "postfix-tls-auth-only", "postfix:submission/inet", instant
    ).expired
    assert match_waiver(
        waivers, "postfix-tls-auth-only", "postfix:submission/inet", instant + timedelta(seconds=1)
    ).expired


def test_naive_now_is_refused():
    """A naive datetime could be any zone, so it is a programming error."""
    with pytest.raises(ValueError):
        match_waiver(load_waivers(WAIVERS), "x", "postfix:main", datetime(2025, 1, 1))


def test_exact_scope_matches_only_that_scope():
    """An exact scope waives that scope alone; an omitted scope waives all."""
    waivers = load_waivers(WAIVERS)
    now = at("2025-01-01T00:00:00")
    assert match_waiver(waivers, "postfix-tls-auth-only", "postfix:smtp/inet", now) is None
    assert match_waiver(waivers, "postfix-tls-auth-only", "postfix:main", now) is None
    assert match_waiver(waivers, "other-rule", "postfix:submission/inet", now) is None


def test_glob_scope_waivers():
    """A glob scope matches every scope string it covers, and nothing else."""
    waivers = load_waivers(WAIVERS)
    now = at("2025-01-01T00:00:00")
    for scope in ["postfix@postfix-out:main", "postfix@postfix-b:smtp/inet"]:
        match = match_waiver(waivers, "postfix-sasl-noanonymous", scope, now)
        assert match is not None and not match.expired, scope
    for scope in ["postfix:main", "postfix@relay:main"]:
        assert match_waiver(waivers, "postfix-sasl-noanonymous", scope, now) is None, scope


def test_active_waiver_beats_expired_one():
    """Where an expired and an active waiver both match, the active one is returned."""
    waivers = load_waivers(WAIVERS)
    now = at("2025-02-01T00:00:00")
    imap = match_waiver(waivers, "dovecot-ssl-min-protocol", "dovecot:protocol=imap", now)
    assert imap is not None and not imap.expired
    assert imap.waiver.reason == "renewed for IMAP only"
    pop = match_waiver(waivers, "dovecot-ssl-min-protocol", "dovecot:protocol=pop3", now)
    assert pop is not None and pop.expired
    assert pop.as_dict() == {
        "expired": True,
        "reason": "old IMAP clients until migration",
        "expires": "2024-01-31",
        "scope": None,
        "file": WAIVERS,
        "line": 10,
    }


def test_latest_expired_is_reported():
    """With only expired waivers, the one that expired last is reported."""
    waivers = load_waivers(WAIVERS)
    match = match_waiver(
        waivers, "dovecot-ssl-min-protocol", "dovecot:protocol=imap", at("2026-01-01T00:00:00")
    )
    assert match.expired and match.waiver.expires == date(2025, 3, 31)


def test_scope_string_is_canonicalised_before_matching():
    """Waiver and result scopes are compared in canonical spelling."""
    waivers = parse_waivers(
        "- {rule: r, scope: 'dovecot:remote=2001:DB8::/32', reason: x, expires: 2030-01-01}\n",
        "w.yaml",
    )
    assert waivers[0].scope == "dovecot:remote=2001:db8::/32"
    now = at("2025-01-01T00:00:00")
    assert match_waiver(waivers, "r", "dovecot:remote=2001:db8:0::/32", now) is not None


def test_unknown_rule_with_known_rules():
    """Given the policy's rule ids, a waiver for another rule is refused with a suggestion."""
    with pytest.raises(ConfigError, match="did you mean 'postfix-tls-auth-only'") as err:
        load_waivers(WAIVERS, known_rules={"postfix-tls-auth-only", "dovecot-ssl-min-protocol"})
    assert err.value.line == 6


def test_empty_waiver_file_has_no_waivers():
    """An empty waiver file means no waivers."""
    assert parse_waivers("# none\n", "w.yaml") == []


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_broken_waiver_file_is_one_error_at_the_marked_line(path):
    """Each broken waiver sample is refused naming its file and the marked line."""
    line, fragment = expected_error(path)
    with pytest.raises(ConfigError) as err:
        load_waivers(str(path))
    assert (err.value.file, err.value.line) == (str(path), line), str(err.value)
    assert fragment in err.value.message, str(err.value)
