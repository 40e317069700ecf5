"""The flap guard on a fake clock: fast flaps, slow fights, expiry, SIGHUP."""

from __future__ import annotations

import pytest

from maildrift.enforce.flapguard import FlapGuard

KEY = ("postfix-tls-auth-only", "postfix:default")
OTHER = ("dovecot-disable-plaintext-auth", "dovecot:default")


class FakeClock:
    """Seconds that only move when the test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def revert(guard: FlapGuard, key, unsafe_hash: str, now: float) -> bool:
    """Ask the guard and, when allowed, count the revert as made."""
    decision = guard.allow(key, unsafe_hash, now)
    if decision.allowed:
        guard.record(key, unsafe_hash, now)
    return decision.allowed


def test_fourth_revert_within_window_is_refused_once_loudly():
    """Three reverts within ten minutes are made; the fourth suspends the key, reported once."""
    guard, clock = FlapGuard(), FakeClock()
    for n in range(3):
        assert revert(guard, KEY, f"h{n}", clock.advance(60))
    fourth = guard.allow(KEY, "h-new", clock.advance(60))
    assert (fourth.allowed, fourth.newly_suspended, fourth.reason) == (False, True, "flapping")
    assert "3 reverts within 600 s" in fourth.detail
    again = guard.allow(KEY, "h-newer", clock.advance(1))
    assert (again.allowed, again.newly_suspended, again.reason) == (False, False, "flapping")
    assert guard.suspended(clock.now) == {KEY}


def test_flap_suspension_ends_when_oldest_revert_ages_out():
    """The suspension lasts exactly until the oldest counted revert is window_s old."""
    guard = FlapGuard(max_reverts=3, window_s=600)
    for t in (0, 100, 200):
        assert revert(guard, KEY, f"h{t}", t)
    decision = guard.allow(KEY, "x", 300)
    assert decision.until == 600
    assert not guard.allow(KEY, "x", 599.9).allowed
    assert guard.suspended(599.9) == {KEY}
    assert guard.suspended(600) == set()
    assert revert(guard, KEY, "x", 600)
    # 100, 200 and 600 are in the window now: a fourth is refused until 100 ages out.
    refused = guard.allow(KEY, "y", 601)
    assert (refused.allowed, refused.newly_suspended, refused.until) == (False, True, 700)


def test_reverts_spread_beyond_the_window_never_suspend():
    """One revert every four minutes keeps at most three in any ten-minute window."""
    guard = FlapGuard(max_reverts=3, window_s=600)
    for n in range(20):
        assert revert(guard, KEY, f"distinct-{n}", n * 240.0)
    assert guard.suspended(20 * 240.0) == set()


def test_keys_are_counted_separately():
    """Reverts of one (rule, scope) do not count against another."""
    guard = FlapGuard(max_reverts=2, window_s=600)
    assert revert(guard, KEY, "a", 0)
    assert revert(guard, KEY, "b", 1)
    assert not revert(guard, KEY, "c", 2)
    assert revert(guard, OTHER, "a", 3)
    assert revert(guard, ("postfix-tls-auth-only", "postfix:postfix-out"), "a", 4)
    assert guard.suspended(5) == {KEY}


def test_slow_fight_same_hash_k_times_in_a_day():
    """The same unsafe hash reverted three times over hours is not reverted a fourth time."""
    guard, clock = FlapGuard(), FakeClock(0)
    for _ in range(3):
        assert revert(guard, KEY, "puppet-version", clock.advance(3 * 3600))
    other_version = guard.allow(KEY, "admin-version", clock.advance(3600))
    assert other_version.allowed  # a different unsafe version is not the fight
    fourth = guard.allow(KEY, "puppet-version", clock.advance(1))
    assert (fourth.allowed, fourth.newly_suspended, fourth.reason) == (False, True, "slow_fight")
    assert fourth.until == 3 * 3600 + 86400
    # A suspension covers the key whatever version comes next.
    assert not guard.allow(KEY, "admin-version", clock.advance(1)).allowed


def test_slow_fight_suspension_ends_after_the_day_window():
    """After the oldest of the K reverts is 24 h old the version is reverted again."""
    guard = FlapGuard(max_repeats=3, repeat_window_s=86400)
    for t in (0.0, 7200.0, 14400.0):
        assert revert(guard, KEY, "same", t)
    assert not guard.allow(KEY, "same", 20000).allowed
    assert guard.suspended(86399.9) == {KEY}
    assert revert(guard, KEY, "same", 86400)
    assert guard.suspended(86400) == set()


def test_reset_on_sighup_resumes_and_forgets_counts():
    """reset() ends the suspension and the next three reverts are made again."""
    guard = FlapGuard()
    for t in range(3):
        assert revert(guard, KEY, "same", t)
    assert guard.allow(KEY, "same", 3).newly_suspended
    guard.reset()
    assert guard.suspended(4) == set()
    assert [revert(guard, KEY, "same", 4 + t) for t in range(4)] == [True, True, True, False]


def test_old_hashes_are_pruned():
    """Per-hash histories older than the repeat window are dropped, not kept forever."""
    guard = FlapGuard(max_reverts=1000, repeat_window_s=100)
    for n in range(50):
        assert revert(guard, KEY, f"version-{n}", n * 10.0)
    assert len(guard._repeats[KEY]) <= 11


@pytest.mark.parametrize(
    "kwargs",
    [{"max_reverts": 0}, {"max_repeats": 0}, {"window_s": 0}, {"repeat_window_s": -1}],
)
def test_nonsense_limits_are_refused(kwargs):
    """Limits that would suspend everything or nothing are a ValueError."""
    with pytest.raises(ValueError):
        FlapGuard(**kwargs)
