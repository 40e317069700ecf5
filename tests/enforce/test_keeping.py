"""Quarantining a plan ahead of its write: all entries, or none."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from maildrift.enforce.keeping import Keeper, quarantine_plan
from maildrift.enforce.quarantine import QuarantineFull


class _Store:
    def __init__(self, fail_at: int) -> None:
        self.fail_at, self.kept, self.discarded = fail_at, [], []

    def put(self, path, content, **kw):
        if len(self.kept) == self.fail_at:
            raise QuarantineFull("no room")
        entry = SimpleNamespace(id=f"e{len(self.kept)}", path=path)
        self.kept.append(entry)
        return entry

    def discard(self, entry_id):
        self.discarded.append(entry_id)


def _plan(paths):
    writes = [
        SimpleNamespace(path=p, data=b"new\n", expected_sha256="0" * 64, meta=None) for p in paths
    ]
    return SimpleNamespace(writes=writes, metas=[])


def _deps(store):
    return SimpleNamespace(quarantine=store, writer_of=lambda path: None)


GROUP = {("rule", "scope")}
FAILING = {("rule", "scope"): SimpleNamespace(severity="high")}
STATE = SimpleNamespace(contents={}, files={})


def test_a_failed_entry_takes_back_the_ones_before_it():
    """When the second file cannot be kept, the first file's entry is deleted too."""
    store = _Store(fail_at=1)
    with pytest.raises(QuarantineFull):
        quarantine_plan(_deps(store), GROUP, FAILING, _plan(["/a", "/b"]), STATE, str)
    assert store.discarded == ["e0"]


def test_keeper_drop_deletes_a_refused_plans_entries():
    """Entries written ahead for a plan the candidate refused are deleted."""
    store = _Store(fail_at=99)
    keeper = Keeper()
    pending = keeper.start(_deps(store), GROUP, FAILING, _plan(["/a", "/b"]), STATE, str)
    Keeper.drop(_deps(store), pending)
    assert store.discarded == ["e0", "e1"]
    keeper.flush()
