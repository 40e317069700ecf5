"""The last verdicts on disk (``<state_dir>/verdicts.json``), so drift survives a restart.

A rule that passed before the daemon stopped and fails at start is drift.
Only rule, scope and status are kept: no value, no file content.
"""

from __future__ import annotations

import json
import os

__all__ = ["load_verdicts", "save_verdicts"]


def _path(state_dir: str) -> str:
    return os.path.join(state_dir, "verdicts.json")


def load_verdicts(state_dir: str) -> dict | None:
    """(rule, scope) -> status from the last run, or None when there is none to trust."""
    try:
        with open(_path(state_dir), encoding="utf-8") as handle:
            data = json.load(handle)
        return {(item["rule"], item["scope"]): item["status"] for item in data["results"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_verdicts(state_dir: str, report) -> None:
    """Write the report's statuses atomically (temp file, fsync, rename); OSError propagates."""
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    path = _path(state_dir)
    temp = path + ".tmp"
    results = [{"rule": r.rule, "scope": r.scope, "status": r.status} for r in report.results]
    with open(temp, "w", encoding="utf-8") as handle:
        json.dump({"results": results}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
