"""The watched tree as one evaluation judged it: per-file state and the bytes judged.

Pure: built from a loaded :class:`~maildrift.engine.mailconfig.MailConfig`,
whose loaders kept the exact bytes they parsed.  Files whose bytes maildrift
does not judge (private keys, password maps, unread files under the config
directories) are kept as metadata only, marked ``secret``: a revert can put
their mode and owner back, never their content.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from maildrift.enforce.lkg import FileState

__all__ = ["TreeState", "tree_state"]


@dataclass(frozen=True)
class TreeState:
    """Configured path -> FileState, and the judged bytes of every non-secret file."""

    files: dict[str, FileState] = field(default_factory=dict)
    contents: dict[str, bytes] = field(default_factory=dict)

    def text(self, path: str) -> str | None:
        data = self.contents.get(path)
        return None if data is None else data.decode("utf-8", "surrogateescape")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tree_state(mail) -> TreeState:
    """The state of every file the evaluation of ``mail`` looked at."""
    files: dict[str, FileState] = {}
    contents: dict[str, bytes] = {}
    for path, info in mail.files.files.items():
        if info.is_dir:
            continue
        read = mail.read.get(path)
        data = read.data if read is not None else info.content
        if info.secret or data is None or not info.exists:
            files[path] = FileState(
                path, info.exists, None, info.mode, info.uid, info.gid, secret=info.exists
            )
            continue
        contents[path] = data
        files[path] = FileState(path, True, _sha256(data), info.mode, info.uid, info.gid)
    for path, read in mail.read.items():
        if path not in files:
            contents[path] = read.data
            files[path] = FileState(path, True, _sha256(read.data), read.mode, read.uid, read.gid)
    return TreeState(files, contents)
