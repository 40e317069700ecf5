"""Last-known-good: per enforceable rule, the watched files as they were when it last passed.

Layout under the state directory (0700)::

    lkg/index.json          (rule, scope) -> {path: FileState}, and when it was recorded
    lkg/blobs/<sha256>      file contents, by hash, 0600

Secret files (keys, password maps) are recorded by metadata only: no hash,
no blob.  The index is replaced atomically and only when it changes, and
blobs are written once per hash, so recording an unchanged state after every
evaluation costs a dictionary comparison.  Loading checks every blob against
its name; an entry that lost a blob is dropped and reported, and an
unreadable index is moved aside and reported: the store starts empty rather
than trusting it.

>>> FileState("/etc/postfix/main.cf", True, "ab" * 32, 0o644, 0, 0).meta
FileMeta(mode=420, uid=0, gid=0)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Callable

from maildrift.enforce.safewrite import FileMeta
from maildrift.enforce.statedir import ensure_private_dir, write_private
from maildrift.errors import MaildriftError

__all__ = ["FileState", "LkgError", "LkgStore", "RuleKey"]

#: (rule id, scope) of one enforceable result.
RuleKey = tuple[str, str]
_HASH = re.compile(r"^[0-9a-f]{64}$")
_FIELDS = ("exists", "sha256", "mode", "uid", "gid", "secret")


class LkgError(MaildriftError):
    """A blob that is missing or does not match its hash."""


@dataclass(frozen=True)
class FileState:
    """One watched file: whether it exists, its hash (None for secret or missing), its metadata."""

    path: str
    exists: bool
    sha256: str | None = None
    mode: int = 0
    uid: int = -1
    gid: int = -1
    secret: bool = False

    @property
    def meta(self) -> FileMeta:
        return FileMeta(self.mode, self.uid, self.gid)

    def to_json(self) -> dict:
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_json(cls, path: str, data: dict) -> FileState:
        state = cls(path, **{name: data[name] for name in _FIELDS})
        checks = (
            isinstance(state.exists, bool),
            isinstance(state.secret, bool),
            state.sha256 is None or bool(_HASH.match(str(state.sha256))),
            all(isinstance(getattr(state, n), int) for n in ("mode", "uid", "gid")),
        )
        if not all(checks):
            raise ValueError(f"{path}: malformed file state")
        return state


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class LkgStore:
    """The last-known-good store in ``<state_dir>/lkg``; :meth:`load` it once at start."""

    def __init__(self, state_dir: str, *, clock: Callable[[], datetime] = _utc_now):
        self.directory = os.path.join(os.path.abspath(state_dir), "lkg")
        self.blobs = os.path.join(self.directory, "blobs")
        self.index_path = os.path.join(self.directory, "index.json")
        self.clock = clock
        self._entries: dict[RuleKey, tuple[dict[str, FileState], str]] = {}
        self._known_blobs: set[str] = set()
        self._loaded = False
        # Deferred records (the daemon's): blobs and the index written by flush().
        self._pending_blobs: dict[str, bytes] = {}
        self._dirty = False

    # -- loading --------------------------------------------------------------------------

    def load(self) -> list[str]:
        """Read the index and check every blob; return the problems found (never raises)."""
        self._entries, self._known_blobs, self._loaded = {}, set(), True
        problems: list[str] = []
        try:
            with open(self.index_path, "rb") as handle:
                entries = self._parse(json.loads(handle.read()))
        except FileNotFoundError:
            return problems
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            return [self._move_index_aside(exc)]
        checked: dict[str, str | None] = {}
        for key, (files, recorded) in entries.items():
            trouble = []
            for path, state in sorted(files.items()):
                if state.sha256 and state.sha256 not in checked:
                    # Each blob once: a corrupt one is moved aside on the first look.
                    checked[state.sha256] = self._check_blob(state.sha256)
                if state.sha256 and checked[state.sha256]:
                    trouble.append(f"{path}: {checked[state.sha256]}")
            if trouble:
                problems.append(
                    f"last-known-good of {key[0]} ({key[1]}) dropped: " + "; ".join(trouble)
                )
            else:
                self._entries[key] = (files, recorded)
        self._known_blobs = {h for h, problem in checked.items() if problem is None}
        if problems:
            with contextlib.suppress(OSError):
                self._write_index()
        return problems

    @staticmethod
    def _parse(document) -> dict[RuleKey, tuple[dict[str, FileState], str]]:
        if document.get("version") != 1:
            raise ValueError("unknown index version")
        entries = {}
        for item in document["entries"]:
            key = (str(item["rule"]), str(item["scope"]))
            files = {p: FileState.from_json(p, d) for p, d in item["files"].items()}
            entries[key] = (files, str(item["recorded"]))
        return entries

    def _check_blob(self, sha256: str) -> str | None:
        """None if the blob is sound; else what is wrong (a corrupt blob is moved aside)."""
        path = os.path.join(self.blobs, sha256)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return f"blob {sha256} missing"
        except OSError as exc:
            return f"blob {sha256}: {exc.strerror}"
        if _sha256(data) == sha256:
            return None
        with contextlib.suppress(OSError):
            os.rename(path, f"{path}.corrupt-{self._stamp()}")
        return f"blob {sha256} corrupt (moved aside)"

    def _move_index_aside(self, exc: Exception) -> str:
        aside = f"{self.index_path}.corrupt-{self._stamp()}"
        try:
            os.rename(self.index_path, aside)
        except OSError as error:
            return f"{self.index_path}: unreadable ({exc}); could not move it aside: {error}"
        return f"{self.index_path}: unreadable ({exc}); moved to {aside}, starting empty"

    def _stamp(self) -> str:
        return self.clock().astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")

    # -- reading --------------------------------------------------------------------------

    def rule_keys(self) -> list[RuleKey]:
        self._ensure_loaded()
        return sorted(self._entries)

    def get(self, key: RuleKey) -> dict[str, FileState] | None:
        """The files as they were when the rule last passed, or None if it never did."""
        self._ensure_loaded()
        entry = self._entries.get(tuple(key))
        return dict(entry[0]) if entry else None

    def recorded(self, key: RuleKey) -> str | None:
        """When the current last-known-good of ``key`` was first seen (ISO 8601, UTC)."""
        self._ensure_loaded()
        entry = self._entries.get(tuple(key))
        return entry[1] if entry else None

    def content(self, sha256: str) -> bytes:
        """A blob's bytes, checked against its hash."""
        if not _HASH.match(sha256):
            raise LkgError(f"not a sha256: {sha256!r}")
        if sha256 in self._pending_blobs:
            return self._pending_blobs[sha256]
        try:
            with open(os.path.join(self.blobs, sha256), "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise LkgError(f"last-known-good blob {sha256}: {exc.strerror}") from exc
        if _sha256(data) != sha256:
            raise LkgError(f"last-known-good blob {sha256} is corrupt")
        return data

    # -- writing --------------------------------------------------------------------------

    def record(
        self, key: RuleKey, files: Mapping[str, FileState], contents: Mapping[str, bytes]
    ) -> bool:
        """Make ``files`` the last-known-good of ``key``; True if anything was written.

        ``contents`` holds the bytes of every existing non-secret file (a
        secret file's bytes are ignored if present).  A state without a hash
        is hashed from its content; a given hash must match the content.
        """
        self._ensure_loaded()
        key = (str(key[0]), str(key[1]))
        states = {path: self._normalise(state, contents) for path, state in files.items()}
        current = self._entries.get(key)
        if current is not None and current[0] == states:
            return False
        for path, state in states.items():
            if state.sha256 and state.sha256 not in self._known_blobs:
                self._write_blob(path, state.sha256, contents)
        self._entries[key] = (states, self.clock().astimezone(timezone.utc).isoformat())
        self._write_index()
        return True

    def record_many(
        self,
        keys,
        files: Mapping[str, FileState],
        contents: Mapping[str, bytes],
        *,
        defer: bool = False,
    ) -> bool:
        """:meth:`record` for several keys sharing one tree: one index write at most.

        The daemon records every passing rule after every evaluation; one
        fsynced index per rule would stall its loop.  With ``defer`` nothing is
        written now: :meth:`flush` writes the new blobs and the index, which the
        daemon does when its loop is idle, so the disk never delays a verdict.
        """
        self._ensure_loaded()
        states = {path: self._normalise(state, contents) for path, state in files.items()}
        changed = [
            (str(k[0]), str(k[1]))
            for k in keys
            if (self._entries.get((str(k[0]), str(k[1]))) or (None,))[0] != states
        ]
        if not changed:
            return False
        for path, state in states.items():
            if state.sha256 and state.sha256 not in self._known_blobs:
                if defer:
                    self._pending_blobs.setdefault(state.sha256, contents[path])
                else:
                    self._write_blob(path, state.sha256, contents)
        stamp = self.clock().astimezone(timezone.utc).isoformat()
        for key in changed:
            self._entries[key] = (states, stamp)
        if defer:
            self._dirty = True
        else:
            self._write_index()
        return True

    def flush(self) -> bool:
        """Write what deferred records left in memory: blobs first, then the index."""
        if not self._dirty and not self._pending_blobs:
            return False
        for sha256, data in list(self._pending_blobs.items()):
            if sha256 not in self._known_blobs:
                self._write_blob(sha256, sha256, {sha256: data})
            del self._pending_blobs[sha256]
        self._write_index()
        self._dirty = False
        return True

    def forget(self, key: RuleKey) -> bool:
        """Drop a rule's last-known-good (its rule left the policy); True if there was one."""
        self._ensure_loaded()
        if self._entries.pop(tuple(key), None) is None:
            return False
        self._write_index()
        return True

    def gc(self) -> list[str]:
        """Delete blobs no entry refers to, and temp files a crash left; return their names."""
        self._ensure_loaded()
        self.flush()
        referenced = {s.sha256 for files, _ in self._entries.values() for s in files.values()}
        removed = []
        with contextlib.suppress(FileNotFoundError):
            for name in sorted(os.listdir(self.blobs)):
                stale = _HASH.match(name) and name not in referenced
                if stale or (name.startswith(".") and ".tmp-" in name):
                    os.unlink(os.path.join(self.blobs, name))
                    self._known_blobs.discard(name)
                    removed.append(name)
        return removed

    # -- helpers --------------------------------------------------------------------------

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            self.load()

    @staticmethod
    def _normalise(state: FileState, contents: Mapping[str, bytes]) -> FileState:
        if state.secret or not state.exists:
            return replace(state, sha256=None)
        if state.sha256 is not None:
            return state
        if state.path not in contents:
            raise ValueError(f"{state.path}: no content given for a non-secret file")
        return replace(state, sha256=_sha256(contents[state.path]))

    def _write_blob(self, path: str, sha256: str, contents: Mapping[str, bytes]) -> None:
        data = contents.get(path)
        if data is None or _sha256(data) != sha256:
            raise ValueError(f"{path}: content missing or not matching sha256 {sha256}")
        ensure_private_dir(self.blobs)
        write_private(os.path.join(self.blobs, sha256), data)
        self._known_blobs.add(sha256)

    def _write_index(self) -> None:
        entries = [
            {
                "rule": rule,
                "scope": scope,
                "recorded": recorded,
                "files": {p: s.to_json() for p, s in sorted(files.items())},
            }
            for (rule, scope), (files, recorded) in sorted(self._entries.items())
        ]
        document = {"version": 1, "entries": entries}
        ensure_private_dir(self.directory)
        write_private(self.index_path, json.dumps(document, indent=1, sort_keys=True).encode())
