"""Taking the file facts the engine needs (the I/O edge of evaluation).

It stats every file under the configuration directories and every file the
configuration names (certificates, keys, lookup tables, password files), and
reads content only of non-secret tables the policy inspects.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import stat
from collections.abc import Mapping
from types import MappingProxyType

from maildrift.engine.filefacts import FileFacts, FileInfo
from maildrift.engine.secrets import is_secret_name, referenced_files
from maildrift.filestore import TreeReader

__all__ = ["take_snapshot"]

_MAX_TABLE = 4 * 1024 * 1024


def _read_ids(host_path: str) -> _Ids:
    try:
        with open(host_path, "rb") as handle:
            data = handle.read()
    except OSError:
        return _NO_IDS
    return _parse_ids(data)


@dataclasses.dataclass(frozen=True)
class _Ids:
    """Ids by name (read-only) and, for lookups by id, the first name of each id."""

    by_name: Mapping[str, int]
    by_id: Mapping[int, str]


_NO_IDS = _Ids(MappingProxyType({}), MappingProxyType({}))


@functools.lru_cache(maxsize=8)
def _parse_ids(data: bytes) -> _Ids:
    # Pure in the bytes, and /etc/passwd rarely changes between two evaluations.
    found: dict[str, int] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        parts = line.split(":")
        if len(parts) > 2 and parts[2].isdigit():
            found.setdefault(parts[0], int(parts[2]))
    by_id: dict[int, str] = {}
    for name, number in found.items():
        by_id.setdefault(number, name)
    return _Ids(MappingProxyType(found), MappingProxyType(by_id))


def _id_maps(reader: TreeReader) -> tuple[_Ids, _Ids]:
    """User and group ids by name: the judged tree's own /etc/passwd, else this host's."""
    users = _read_ids(reader.host_path("/etc/passwd"))
    groups = _read_ids(reader.host_path("/etc/group"))
    if not users.by_name:
        users, groups = _read_ids("/etc/passwd"), _read_ids("/etc/group")
    return users, groups


def _stat(reader: TreeReader, path: str) -> os.stat_result:
    # Metadata is the live file's: a candidate (Ansible's 0600 temp file) is
    # judged for content only; a candidate for a new file has no live file yet.
    live = reader.live_path(path)
    try:
        return os.stat(live)
    except FileNotFoundError:
        if os.path.lexists(live):
            raise  # a dangling symlink: the live file is missing
        found = reader.stat(path)
        if found is None:
            raise
        return found


def _info(reader: TreeReader, path: str, secret: bool, read: bool, names) -> FileInfo:
    users, groups = names
    try:
        st = _stat(reader, path)
    except OSError as exc:
        return FileInfo(path, exists=False, secret=secret, error=exc.strerror or str(exc))
    content = None
    if read and not secret and stat.S_ISREG(st.st_mode) and st.st_size <= _MAX_TABLE:
        try:
            content = reader.read(path).data
        except Exception:
            content = None
    return FileInfo(
        path,
        exists=True,
        mode=stat.S_IMODE(st.st_mode),
        uid=st.st_uid,
        gid=st.st_gid,
        owner=users.by_id.get(st.st_uid) or str(st.st_uid),
        group=groups.by_id.get(st.st_gid) or str(st.st_gid),
        is_dir=stat.S_ISDIR(st.st_mode),
        secret=secret,
        content=content,
    )


def _walk(reader: TreeReader, directory: str) -> list[str]:
    """Files under ``directory`` as os.walk gives them: each directory's files, sorted,
    then its subdirectories in name order; symlinked directories are not entered."""
    try:
        entries = sorted(os.scandir(reader.host_path(directory)), key=lambda e: e.name)
    except OSError:
        return []
    found, subdirectories = [], []
    for entry in entries:
        try:
            is_dir = entry.is_dir()
            # As os.walk: symlinked directories are not entered (gone since: skipped).
            link = is_dir and entry.is_symlink()
        except OSError:
            is_dir, link = False, False
        if not is_dir:
            found.append(os.path.join(directory, entry.name))
        elif not link:
            subdirectories.append(os.path.join(directory, entry.name))
    for subdirectory in subdirectories:
        found += _walk(reader, subdirectory)
    return found


def take_snapshot(reader: TreeReader, postfix_configs, dovecot) -> FileFacts:
    """Stat (and where needed read) every file the policy may look at."""
    names = _id_maps(reader)
    wanted: dict[str, tuple[bool, bool]] = {}
    config_files: dict[str, tuple[str, ...]] = {}
    for config in postfix_configs:
        files = _walk(reader, config.config_directory)
        config_files[f"postfix:{config.config_directory}"] = tuple(files)
        for path in files:
            wanted[path] = (is_secret_name(path), False)
    if dovecot is not None:
        directory = os.path.dirname(dovecot.config_file)
        files = _walk(reader, directory)
        extra = [f.path for f in dovecot.files if f.role in ("main", "include")]
        files += [p for p in extra if p not in files]
        config_files[f"dovecot:{directory}"] = tuple(files)
        for path in files:
            wanted[path] = (is_secret_name(path), False)
    for path, secret, read in referenced_files(postfix_configs, dovecot):
        old_secret, old_read = wanted.get(path, (False, False))
        wanted[path] = (secret or old_secret, read or old_read)
    files = {p: _info(reader, p, s, r, names) for p, (s, r) in wanted.items()}
    return FileFacts(
        files=files,
        users=names[0].by_name,
        groups=names[1].by_name,
        config_files=config_files,
    )
