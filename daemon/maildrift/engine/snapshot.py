"""Taking the file facts the engine needs (the I/O edge of evaluation).

It stats every file under the configuration directories and every file the
configuration names (certificates, keys, lookup tables, password files), and
reads content only of non-secret tables the policy inspects.
"""

from __future__ import annotations

import functools
import os
import stat

from maildrift.engine.filefacts import FileFacts, FileInfo
from maildrift.engine.secrets import is_secret_name, referenced_files
from maildrift.filestore import TreeReader

__all__ = ["take_snapshot"]

_MAX_TABLE = 4 * 1024 * 1024


def _read_ids(host_path: str) -> dict[str, int]:
    try:
        with open(host_path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return {}
    return dict(_parse_ids(text))


@functools.lru_cache(maxsize=8)
def _parse_ids(text: str) -> tuple[tuple[str, int], ...]:
    # Pure in the text, and /etc/passwd rarely changes between two evaluations.
    found: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) > 2 and parts[2].isdigit():
            found.setdefault(parts[0], int(parts[2]))
    return tuple(found.items())


def _id_maps(reader: TreeReader) -> tuple[dict[str, int], dict[str, int]]:
    """User and group ids by name: the judged tree's own /etc/passwd, else this host's."""
    users = _read_ids(reader.host_path("/etc/passwd"))
    groups = _read_ids(reader.host_path("/etc/group"))
    if not users:
        users, groups = _read_ids("/etc/passwd"), _read_ids("/etc/group")
    return users, groups


def _info(reader: TreeReader, path: str, secret: bool, read: bool, names) -> FileInfo:
    users, groups = names
    try:
        # Metadata is the live file's: a candidate (Ansible's 0600 temp file) is
        # judged for content only; a candidate for a new file has no live file yet.
        live = reader.live_path(path)
        st = os.stat(live if os.path.lexists(live) else reader.host_path(path))
    except OSError as exc:
        return FileInfo(path, exists=False, secret=secret, error=exc.strerror or str(exc))
    owner = next((n for n, i in users.items() if i == st.st_uid), str(st.st_uid))
    group = next((n for n, i in groups.items() if i == st.st_gid), str(st.st_gid))
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
        owner=owner,
        group=group,
        is_dir=stat.S_ISDIR(st.st_mode),
        secret=secret,
        content=content,
    )


def _walk(reader: TreeReader, directory: str) -> list[str]:
    found = []
    top = reader.host_path(directory)
    for base, dirs, files in os.walk(top):
        dirs.sort()
        for name in sorted(files):
            found.append(reader.config_path(os.path.join(base, name)))
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
    return FileFacts(files=files, users=names[0], groups=names[1], config_files=config_files)
