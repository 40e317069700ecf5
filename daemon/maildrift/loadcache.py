"""Reusing a loaded model while every file it was read from is unchanged.

A load is a pure function of what it read.  The cache records every answer
the reader gave (file bytes and metadata, stat results, glob matches) and, on
the next load, asks the same questions again: if every answer is the same, the
previous model is the answer too, and nothing is parsed.  Asking again is the
cheap part (a few small reads); parsing is what the daemon saves.

A load that failed is cached the same way, so a broken file is not reparsed
on every event either.

>>> import os, tempfile
>>> from maildrift.filestore import TreeReader
>>> d = tempfile.mkdtemp()
>>> path = os.path.join(d, "a.cf")
>>> _ = open(path, "w").write("x = 1\\n")
>>> cache, parses = LoadCache(), []
>>> def load(reader):
...     parses.append(1)
...     return reader.read(path).data
>>> cache.load("a", TreeReader(), load), cache.load("a", TreeReader(), load), len(parses)
(b'x = 1\\n', b'x = 1\\n', 1)
>>> _ = open(path, "w").write("x = 2\\n")
>>> cache.load("a", TreeReader(), load), len(parses)
(b'x = 2\\n', 2)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, TypeVar

from maildrift.errors import ConfigError

__all__ = ["LoadCache", "RecordingReader", "files_read"]

T = TypeVar("T")


def _stat_key(st: os.stat_result | None) -> tuple | None:
    if st is None:
        return None
    return (st.st_dev, st.st_ino, st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns)


def _error_key(exc: ConfigError) -> tuple:
    return ("error", exc.message, exc.file, exc.line)


class RecordingReader:
    """A reader that remembers every question and answer; path mapping passes through."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.calls: list[tuple[str, str, object]] = []

    def __getattr__(self, name: str):
        # host_path, live_path, config_path, root, candidates: pure, nothing to record.
        return getattr(self._inner, name)

    def read(self, path: str):
        try:
            data = self._inner.read(path)
        except ConfigError as exc:
            self.calls.append(("read", path, _error_key(exc)))
            raise
        self.calls.append(("read", path, data))
        return data

    def stat(self, path: str):
        st = self._inner.stat(path)
        self.calls.append(("stat", path, _stat_key(st)))
        return st

    def exists(self, path: str) -> bool:
        return self.stat(path) is not None

    def lexists(self, path: str) -> bool:
        found = self._inner.lexists(path)
        self.calls.append(("lexists", path, found))
        return found

    def glob(self, pattern: str) -> list[str]:
        found = self._inner.glob(pattern)
        self.calls.append(("glob", pattern, tuple(found)))
        return found

    def listdir(self, path: str) -> list[str]:
        found = self._inner.listdir(path)
        self.calls.append(("listdir", path, tuple(found)))
        return found


def _answer(reader, kind: str, arg: str) -> object:
    if kind == "read":
        try:
            return reader.read(arg)
        except ConfigError as exc:
            return _error_key(exc)
    if kind == "stat":
        return _stat_key(reader.stat(arg))
    if kind == "lexists":
        return reader.lexists(arg)
    return tuple(getattr(reader, kind)(arg))


def files_read(calls) -> dict:
    """Configured path -> FileData of every file a load read successfully."""
    return {
        arg: answer for kind, arg, answer in calls if kind == "read" and hasattr(answer, "data")
    }


@dataclass
class _Entry:
    calls: list
    value: object
    error: ConfigError | None


class LoadCache:
    """Previous loads by key, each with the reader answers it depended on.

    A ``fallback`` cache is asked too, and never written to: candidates of
    enforce mode reuse the live tree's models of the files they leave alone,
    and the live entries stay as they are.
    """

    def __init__(self, fallback: LoadCache | None = None) -> None:
        self._entries: dict[object, _Entry] = {}
        self._fallback = fallback
        self.hits = 0
        self.misses = 0

    def reads(self, key: object) -> list:
        """The reader calls the model under ``key`` was last built (or confirmed) from."""
        entry = self._entries.get(key)
        return list(entry.calls) if entry is not None else []

    def load(self, key: object, reader, loader: Callable[[object], T]) -> T:
        """``loader(reader)``, or its previous result if the reader would answer the same."""
        for cache in (self, self._fallback):
            entry = cache._entries.get(key) if cache is not None else None
            if entry is not None and all(
                _answer(reader, kind, arg) == answer for kind, arg, answer in entry.calls
            ):
                self.hits += 1
                if cache is not self:
                    # What mail.read reports for this key is the fallback's reads.
                    self._entries[key] = entry
                if entry.error is not None:
                    raise entry.error
                return entry.value
        self.misses += 1
        recorder = RecordingReader(reader)
        try:
            value = loader(recorder)
        except ConfigError as exc:
            self._entries[key] = _Entry(recorder.calls, None, exc)
            raise
        self._entries[key] = _Entry(recorder.calls, value, None)
        return value
