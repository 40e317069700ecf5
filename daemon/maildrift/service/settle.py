"""When to evaluate after a burst of events: quiet for settle_ms, or max_delay_ms at most.

Pure: the caller passes the clock.

>>> s = Settler(settle_ns=5_000_000, max_delay_ns=50_000_000)
>>> s.note(0); s.note(3_000_000); s.due(6_000_000), s.due(8_000_000)
(False, True)
>>> s.reset(); s.pending
False
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Settler"]


@dataclass
class Settler:
    settle_ns: int
    max_delay_ns: int
    first_ns: int | None = None
    last_ns: int | None = None

    @property
    def pending(self) -> bool:
        return self.first_ns is not None

    def note(self, now_ns: int) -> None:
        # Receipt times from two threads can arrive out of order.
        self.first_ns = now_ns if self.first_ns is None else min(self.first_ns, now_ns)
        self.last_ns = now_ns if self.last_ns is None else max(self.last_ns, now_ns)

    def due(self, now_ns: int) -> bool:
        if self.first_ns is None:
            return False
        quiet = now_ns - self.last_ns >= self.settle_ns
        overdue = now_ns - self.first_ns >= self.max_delay_ns
        return quiet or overdue

    def wait_ns(self, now_ns: int) -> int | None:
        """Nanoseconds until an evaluation is due, or None when nothing is pending."""
        if self.first_ns is None:
            return None
        until_quiet = self.last_ns + self.settle_ns - now_ns
        until_overdue = self.first_ns + self.max_delay_ns - now_ns
        return max(0, min(until_quiet, until_overdue))

    def reset(self) -> None:
        self.first_ns = self.last_ns = None
