"""Flap guard: stop reverting a rule that another writer keeps changing back.

Pure bookkeeping: no I/O and no clock of its own.  Every call takes ``now``,
seconds on one monotonic clock (the daemon passes ``time.monotonic()``).
Keys are ``(rule, scope)``.  The caller asks ``allow`` before a revert and calls
``record`` after a revert was made; only made reverts count.

Two limits suspend a key:

- **flapping**: ``max_reverts`` reverts already made within the last
  ``window_s`` seconds.  The next revert, the ``max_reverts + 1``-th, is not
  made.  The suspension lasts until the oldest of those reverts is
  ``window_s`` old; then one revert fits in the window again.
- **slow fight**: the same unsafe version (its content hash) was reverted
  ``max_repeats`` times within ``repeat_window_s``.  When it comes back once
  more, that revert is not made.  The suspension lasts until the oldest of
  those reverts is ``repeat_window_s`` old.

A suspension covers the whole key, whatever version is written meanwhile.
``reset()`` (SIGHUP) ends every suspension and forgets every count.
``allow`` reports ``newly_suspended`` once, on the call that suspended the key,
so the caller writes one loud log event, not one per change.

>>> guard = FlapGuard(max_reverts=2, window_s=60)
>>> key = ("postfix-tls-auth-only", "postfix:default")
>>> for t in (0, 10):
...     assert guard.allow(key, "h1", t).allowed
...     guard.record(key, "h1", t)
>>> d = guard.allow(key, "h2", 20)
>>> d.allowed, d.newly_suspended, d.reason, d.until
(False, True, 'flapping', 60)
>>> guard.allow(key, "h3", 59).newly_suspended, guard.allow(key, "h3", 60).allowed
(False, True)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["Decision", "FlapGuard", "RuleKey"]

#: (rule id, scope).
RuleKey = tuple[str, str]


@dataclass(frozen=True)
class Decision:
    """Whether a revert may be made now.

    ``reason`` is ``allowed``, ``flapping`` or ``slow_fight`` (the cause of the
    suspension, also while it lasts); ``until`` is when the suspension ends, on
    the caller's clock; ``detail`` is a sentence for the log.
    """

    allowed: bool
    newly_suspended: bool
    reason: str
    until: float | None = None
    detail: str = ""


@dataclass
class _Suspension:
    reason: str
    until: float
    detail: str


class FlapGuard:
    """Counts reverts per ``(rule, scope)`` and suspends keys that flap or fight slowly."""

    def __init__(
        self,
        max_reverts: int = 3,
        window_s: float = 600,
        max_repeats: int = 3,
        repeat_window_s: float = 86400,
    ) -> None:
        if max_reverts < 1 or max_repeats < 1:
            raise ValueError("max_reverts and max_repeats must be at least 1")
        if window_s <= 0 or repeat_window_s <= 0:
            raise ValueError("window_s and repeat_window_s must be positive")
        self.max_reverts = max_reverts
        self.window_s = window_s
        self.max_repeats = max_repeats
        self.repeat_window_s = repeat_window_s
        self._reverts: dict[RuleKey, deque[float]] = {}
        self._repeats: dict[RuleKey, dict[str, deque[float]]] = {}
        self._suspended: dict[RuleKey, _Suspension] = {}

    def allow(self, key: RuleKey, unsafe_hash: str, now: float) -> Decision:
        """May the version ``unsafe_hash`` of ``key`` be reverted at ``now``?"""
        current = self._current(key, now)
        if current is not None:
            return Decision(False, False, current.reason, current.until, current.detail)
        reverts = self._pruned_reverts(key, now)
        if len(reverts) >= self.max_reverts:
            return self._suspend(
                key,
                "flapping",
                reverts[0] + self.window_s,
                f"{len(reverts)} reverts within {self.window_s:g} s: another writer keeps"
                " changing it back",
            )
        repeats = self._pruned_repeats(key, unsafe_hash, now)
        if len(repeats) >= self.max_repeats:
            return self._suspend(
                key,
                "slow_fight",
                repeats[0] + self.repeat_window_s,
                f"the same unsafe version came back after {len(repeats)} reverts within"
                f" {self.repeat_window_s:g} s",
            )
        return Decision(True, False, "allowed")

    def record(self, key: RuleKey, unsafe_hash: str, now: float) -> None:
        """Count a revert of ``unsafe_hash`` made at ``now``."""
        self._pruned_reverts(key, now).append(now)
        self._pruned_repeats(key, unsafe_hash, now).append(now)

    def suspended(self, now: float) -> set[RuleKey]:
        """The keys suspended at ``now``; suspensions that have run out are dropped."""
        return {key for key in list(self._suspended) if self._current(key, now) is not None}

    def reset(self) -> None:
        """SIGHUP: end every suspension and forget every count."""
        self._reverts.clear()
        self._repeats.clear()
        self._suspended.clear()

    def _current(self, key: RuleKey, now: float) -> _Suspension | None:
        suspension = self._suspended.get(key)
        if suspension is not None and now >= suspension.until:
            del self._suspended[key]
            return None
        return suspension

    def _suspend(self, key: RuleKey, reason: str, until: float, detail: str) -> Decision:
        self._suspended[key] = _Suspension(reason, until, detail)
        return Decision(False, True, reason, until, detail)

    def _pruned_reverts(self, key: RuleKey, now: float) -> deque[float]:
        reverts = self._reverts.setdefault(key, deque())
        _drop_older(reverts, now - self.window_s)
        return reverts

    def _pruned_repeats(self, key: RuleKey, unsafe_hash: str, now: float) -> deque[float]:
        by_hash = self._repeats.setdefault(key, {})
        horizon = now - self.repeat_window_s
        # Other hashes of the key are pruned here too, so the table stays bounded.
        for other in list(by_hash):
            _drop_older(by_hash[other], horizon)
            if not by_hash[other]:
                del by_hash[other]
        return by_hash.setdefault(unsafe_hash, deque())


def _drop_older(times: deque[float], horizon: float) -> None:
    """Drop entries at or before ``horizon``: a revert exactly a window old has aged out."""
    while times and times[0] <= horizon:
        times.popleft()
