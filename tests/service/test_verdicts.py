"""verdicts.json: what drift across a restart is judged against."""

from __future__ import annotations

import os
from types import SimpleNamespace

from maildrift.service.verdicts import load_verdicts, save_verdicts


def test_round_trip_private_and_nothing_but_statuses(tmp_path):
    """Saved statuses load back by (rule, scope); the state dir is 0700."""
    state = str(tmp_path / "state")
    result = SimpleNamespace(rule="r1", scope="postfix:main", status="fail", actual="secret")
    save_verdicts(state, SimpleNamespace(results=[result]))
    assert load_verdicts(state) == {("r1", "postfix:main"): "fail"}
    assert os.stat(state).st_mode & 0o777 == 0o700
    with open(os.path.join(state, "verdicts.json"), encoding="utf-8") as handle:
        assert "secret" not in handle.read()


def test_missing_or_corrupt_file_means_no_previous(tmp_path):
    """No file, or a file that does not parse, gives None: nothing counts as drift."""
    assert load_verdicts(str(tmp_path)) is None
    (tmp_path / "verdicts.json").write_text("{not json")
    assert load_verdicts(str(tmp_path)) is None
