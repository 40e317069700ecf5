"""Quarantining a revert's rejected versions while its candidate is judged.

The rejected bytes do not depend on the plan (only the diff beside them
does), and writing them is mostly waiting for fsync, while judging the
candidate is mostly Python.  So the entries for a planned revert are written
from a worker thread as soon as the plan exists; the swap waits for them,
so nothing is written to the configuration before its quarantine entry is
on disk.  If the candidate refuses the plan, the entries are deleted again:
they never stood for a revert.

The worker also asks who wrote the rejected version (auditd's ``ausearch``,
a process): that wait overlaps the candidate's judgement too, but the swap
still waits for it.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from maildrift.enforce.planner import Plan
from maildrift.enforce.quarantine import text_diff

__all__ = ["Keeper", "quarantine_plan"]


def quarantine_plan(deps, group, failing, plan: Plan, state, host) -> list:
    """Put every file of ``plan`` into the quarantine; return the entries.

    If one cannot be kept, those already written go again: nothing is
    reverted then, and no entry may say otherwise.
    """
    entries: list = []
    try:
        _put_all(deps, group, failing, plan, state, host, entries)
    except BaseException:
        for entry in entries:
            deps.quarantine.discard(entry.id)
        raise
    return entries


def _put_all(deps, group, failing, plan: Plan, state, host, entries: list) -> None:
    rules = [{"rule": k[0], "scope": k[1], "severity": failing[k].severity} for k in sorted(group)]
    for write in plan.writes:
        old = state.contents.get(write.path, b"")
        entries.append(
            deps.quarantine.put(
                write.path,
                old if write.expected_sha256 else None,
                secret=False,
                rules=rules,
                diff=text_diff(old, write.data, write.path),
                writer=deps.writer_of(host(write.path)),
                sha256=write.expected_sha256,
                meta=None,
            )
        )
    for meta in plan.metas:
        before = state.files.get(meta.path)
        entries.append(
            deps.quarantine.put(
                meta.path,
                None,
                secret=True,
                rules=rules,
                diff=f"mode/owner {before.meta if before else None} -> {meta.meta}",
                writer=deps.writer_of(host(meta.path)),
                sha256=None,
                meta=before.meta if before else None,
                reason="metadata",
                exists=True,
            )
        )


class Keeper:
    """One worker thread; at most one plan's entries in flight, always joined by the caller."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None

    def start(self, *args) -> Future:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="maildrift-quarantine")
        return self._pool.submit(quarantine_plan, *args)

    def flush(self) -> None:
        """Wait until the worker has done everything asked of it so far."""
        if self._pool is not None:
            self._pool.submit(lambda: None).result()

    @staticmethod
    def drop(deps, pending: Future | None) -> None:
        """Wait for ``pending`` and delete what it wrote (the plan was refused)."""
        if pending is None:
            return
        try:
            entries = pending.result()
        except Exception:
            return  # nothing kept: quarantine_plan took back what it had written
        for entry in entries:
            deps.quarantine.discard(entry.id)
