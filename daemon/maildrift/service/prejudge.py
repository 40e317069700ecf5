"""Judging during the settle window, publishing only if nothing moved since.

An event starts a load and evaluation after ``quiet_ns`` (1 ms) without
another, while the loop waits for ``settle_ms`` of quiet.  The short pause
lets the events of one save (a rename-save's create, close and rename) all
arrive first.  When the quiet is reached, that verdict is published
if no relevant event was received after its load began: every completed
write ends in an event (close-write, moved-to, attrib), so a load that began
after the last event read the settled state.  A later event makes it stale;
a new one starts then, at most ``limit`` per burst (a rename-save first
creates its temp file, then renames it), so a stream of events costs little
CPU.  Without a valid one, the settled tree is judged as usual.

Times are CLOCK_MONOTONIC nanoseconds, the clock of the watchers' receipts.

>>> p = Prejudge(limit=2, quiet_ns=10)
>>> p.wanted(last_event_ns=50), p.due(last_event_ns=50, now_ns=55), p.wait_ns(50, 55)
(True, False, 5)
>>> p.start(100, "first")
>>> p.wanted(last_event_ns=90), p.wanted(last_event_ns=120)
(False, True)
>>> p.start(130, "second")
>>> p.wanted(last_event_ns=140), p.take(last_event_ns=125), p.wanted(last_event_ns=0)
(False, 'second', True)
>>> p.start(200, "held"); p.discard(); p.take(last_event_ns=100) is None
True
"""

from __future__ import annotations

__all__ = ["Prejudge"]


class Prejudge:
    def __init__(self, limit: int = 3, quiet_ns: int = 1_000_000) -> None:
        self.limit = limit
        self.quiet_ns = quiet_ns
        self._started_ns: int | None = None
        self._judged = None
        self._count = 0

    def wanted(self, last_event_ns: int | None) -> bool:
        """Whether to judge now: nothing judged since the last event, and room in this burst."""
        if self._count >= self.limit:
            return False
        return self._started_ns is None or (
            last_event_ns is not None and last_event_ns >= self._started_ns
        )

    def wait_ns(self, last_event_ns: int | None, now_ns: int) -> int | None:
        """Nanoseconds until an early judgement is due, or None when none is wanted."""
        if last_event_ns is None or not self.wanted(last_event_ns):
            return None
        return max(0, last_event_ns + self.quiet_ns - now_ns)

    def due(self, last_event_ns: int | None, now_ns: int) -> bool:
        return self.wait_ns(last_event_ns, now_ns) == 0

    def start(self, started_ns: int, judged) -> None:
        """Keep ``judged``, whose load began at ``started_ns``."""
        self._started_ns, self._judged = started_ns, judged
        self._count += 1

    def discard(self) -> None:
        """Drop what is held (the tree was judged anew) and start the burst's count again."""
        self._started_ns = self._judged = None
        self._count = 0

    def take(self, last_event_ns: int | None):
        """The early verdict if no event came after its load began, else None; ends the burst."""
        judged, started = self._judged, self._started_ns
        self.discard()
        if started is None or last_event_ns is None or last_event_ns >= started:
            return None
        return judged
