"""What the engine may know about files: metadata always, content only where it must.

The snapshot is taken at the I/O edge (:mod:`maildrift.engine.snapshot`); the
engine only looks things up in it.  Secret files (private keys, password
maps) carry metadata only: their bytes are never read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["FileFacts", "FileInfo"]


@dataclass(frozen=True)
class FileInfo:
    """One path as the host sees it; ``exists`` False means it is missing."""

    path: str
    exists: bool
    mode: int = 0
    uid: int = -1
    gid: int = -1
    owner: str = ""
    group: str = ""
    is_dir: bool = False
    secret: bool = False
    content: bytes | None = None
    error: str = ""


@dataclass(frozen=True)
class FileFacts:
    """Configured path -> FileInfo, plus the user and group names of the judged host."""

    files: dict[str, FileInfo] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)
    #: Every regular file under the configuration directories.
    config_files: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def get(self, path: str) -> FileInfo:
        return self.files.get(path) or FileInfo(path, exists=False, error="not looked at")
