"""Judging during the settle window, publishing only if nothing moved since.

An event that completes a change (close-write, moved-to, attrib, delete:
anything but the creation of a file, whose content is still coming) starts
a load and evaluation after ``quiet_ns`` (0.3 ms) without another, while the
loop waits for ``settle_ms`` of quiet.  The short pause lets the events of
one save (a rename-save's close and rename) all arrive first.

When the quiet is reached, that verdict is published if no relevant event
was received after its load began: every completed write ends in an event,
so a load that began after the last event read the settled state.  A later
event makes it stale; a new one starts then, at most ``limit`` per burst,
so a stream of events costs little CPU.  Without a valid one, the settled
tree is judged as usual.

Times are CLOCK_MONOTONIC nanoseconds, the clock of the watchers' receipts.

>>> p = Prejudge(limit=2, quiet_ns=10)
>>> p.note("create", 40); p.wait_ns(now_ns=60) is None
True
>>> p.note("close_write", 50); p.due(now_ns=55), p.wait_ns(now_ns=55)
(False, 5)
>>> p.start(100, "first")
>>> p.due(now_ns=200), p.note("moved_to", 120), p.due(now_ns=130)
(False, None, True)
>>> p.start(130, "second")
>>> p.take(last_event_ns=125), p.due(now_ns=500)
('second', False)
>>> p.note("attrib", 600); p.start(700, "held"); p.discard(); p.take(last_event_ns=600) is None
True
"""

from __future__ import annotations

__all__ = ["Prejudge"]


class Prejudge:
    def __init__(self, limit: int = 3, quiet_ns: int = 300_000) -> None:
        self.limit = limit
        self.quiet_ns = quiet_ns
        self._changed_ns: int | None = None
        self._started_ns: int | None = None
        self._judged = None
        self._count = 0

    def note(self, kind: str, received_ns: int) -> None:
        """A relevant event; a created file's content is still coming, so it waits."""
        if kind != "create":
            latest = self._changed_ns
            self._changed_ns = received_ns if latest is None else max(latest, received_ns)

    def wait_ns(self, now_ns: int) -> int | None:
        """Nanoseconds until an early judgement is due, or None when none is wanted."""
        changed = self._changed_ns
        if changed is None or self._count >= self.limit:
            return None
        if self._started_ns is not None and changed < self._started_ns:
            return None  # already judged since the last change
        return max(0, changed + self.quiet_ns - now_ns)

    def due(self, now_ns: int) -> bool:
        return self.wait_ns(now_ns) == 0

    def start(self, started_ns: int, judged) -> None:
        """Keep ``judged``, whose load began at ``started_ns``."""
        self._started_ns, self._judged = started_ns, judged
        self._count += 1

    def discard(self) -> None:
        """Drop what is held (the tree was judged anew); the burst starts over."""
        self._changed_ns = self._started_ns = self._judged = None
        self._count = 0

    def take(self, last_event_ns: int | None):
        """The early verdict if no event came after its load began, else None; ends the burst."""
        judged, started = self._judged, self._started_ns
        self.discard()
        if started is None or last_event_ns is None or last_event_ns >= started:
            return None
        return judged
