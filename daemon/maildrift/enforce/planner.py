"""Planning one revert: which files get which bytes, which get their mode back (pure).

The group is every enforceable rule that went from pass to fail in one
evaluation.  Only what those rules read (their ``inputs``) goes back to its
last-known-good (LKG) value, where it lives: main.cf, a master.cf ``-o``, or
the Dovecot file and section.  Every other change of the same edit stays.
When a file cannot be edited surgically (it does not parse, a section is gone,
a setting moved) or the caller asks for it, the LKG's whole file comes back.
An attribute-only drift of a file whose mode or owner a rule judges is put
back with chmod/chown.

>>> from maildrift.enforce.lkg import FileState
>>> lkg = {"/etc/postfix/main.cf": FileState("/etc/postfix/main.cf", True, "h1", 0o644, 0, 0)}
>>> now = {"/etc/postfix/main.cf": FileState("/etc/postfix/main.cf", True, "h2", 0o644, 0, 0)}
>>> texts = {"h1": b"myhostname = a\\nsmtpd_tls_auth_only = yes\\n"}
>>> current = {"/etc/postfix/main.cf": b"myhostname = b\\nsmtpd_tls_auth_only = no\\n"}
>>> plan = plan_revert(Inputs(postfix=("smtpd_tls_auth_only",)), lkg, texts.get, now, current)
>>> plan.writes[0].data.decode(), plan.writes[0].kind
('myhostname = b\\nsmtpd_tls_auth_only = yes\\n', 'surgical')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable

from maildrift.edit.dovecot_edit import index_file
from maildrift.edit.mastercf_edit import parse_or_refuse as parse_master_cf
from maildrift.edit.restore import restore_dovecot, restore_maincf, restore_mastercf
from maildrift.edit.surgery import SurgeryImpossible
from maildrift.enforce.lkg import FileState
from maildrift.enforce.safewrite import FileMeta

__all__ = ["FileWrite", "Inputs", "MetaRestore", "Plan", "inputs_of", "plan_revert"]

#: Dovecot filter blocks: a setting inside them still is the global setting.
_FILTERS = {"protocol", "local", "remote", "local_name"}
#: Predicates that judge a file's mode and owner rather than a setting.
_METADATA_PREDICATES = {"config_permissions", "secret_permissions"}


@dataclass(frozen=True)
class Inputs:
    """What a group of rules reads: Postfix names, Dovecot setting paths, file metadata."""

    postfix: tuple[str, ...] = ()
    dovecot: tuple[str, ...] = ()
    metadata: bool = False

    def __or__(self, other: Inputs) -> Inputs:
        return Inputs(
            tuple(dict.fromkeys(self.postfix + other.postfix)),
            tuple(dict.fromkeys(self.dovecot + other.dovecot)),
            self.metadata or other.metadata,
        )


def _checks(check):
    yield check
    for child in getattr(check, "checks", ()) or ():
        yield from _checks(child)
    inner = getattr(check, "check", None)
    if inner is not None:
        yield from _checks(inner)


def inputs_of(rule) -> Inputs:
    """The settings a rule reads, from its ``inputs``; file inputs and permission checks
    mean it judges metadata."""
    postfix = tuple(p.name for p in rule.inputs if p.component == "postfix")
    dovecot = tuple(p.name for p in rule.inputs if p.component == "dovecot")
    metadata = any(p.component == "file" for p in rule.inputs) or any(
        getattr(c, "name", None) in _METADATA_PREDICATES or type(c).__name__ == "FileMeta"
        for c in _checks(rule.check)
    )
    return Inputs(postfix, dovecot, metadata)


@dataclass(frozen=True)
class FileWrite:
    """New bytes for one file; ``expected_sha256`` is the judged current version's."""

    path: str
    data: bytes
    expected_sha256: str | None
    kind: str  # surgical | whole_file
    meta: FileMeta | None = None
    reason: str = ""


@dataclass(frozen=True)
class MetaRestore:
    path: str
    meta: FileMeta


@dataclass(frozen=True)
class Plan:
    writes: tuple[FileWrite, ...] = ()
    metas: tuple[MetaRestore, ...] = ()
    #: Why nothing could be planned for a file (content unknown, for instance).
    problems: tuple[str, ...] = ()
    #: The outcome to count instead of the kind of its writes (``remediated``).
    outcome: str = ""

    @property
    def empty(self) -> bool:
        return not self.writes and not self.metas

    @property
    def kind(self) -> str:
        """The revert outcome this plan stands for: whole_file, surgical or metadata."""
        if self.outcome:
            return self.outcome
        kinds = {w.kind for w in self.writes}
        if "whole_file" in kinds:
            return "whole_file"
        return "surgical" if kinds else "metadata"


def _dovecot_keys(texts: list[str], path: str, wanted: tuple[str, ...]) -> list:
    """(section path, name) keys in these texts that one of ``wanted`` names."""
    keys = []
    for text in texts:
        for section_path, name in index_file(text, path).settings:
            types = tuple(t for t, _ in section_path if t not in _FILTERS)
            if "/".join((*types, name)) in wanted:
                keys.append((section_path, name))
    return list(dict.fromkeys(keys))


def _master_keys(texts: list[str], path: str, names: tuple[str, ...]) -> list:
    keys = []
    for text in texts:
        for service in parse_master_cf(text, path).effective_services():
            keys += [(service.key, o.name) for o in service.overrides if o.name in names]
    return list(dict.fromkeys(keys))


def _surgical(path: str, current: str, lkg: str, inputs: Inputs, dovecot_files) -> str:
    name = os.path.basename(path)
    if path in dovecot_files:
        keys = _dovecot_keys([current, lkg], path, inputs.dovecot)
        return restore_dovecot(current, lkg, keys, path)
    if name == "main.cf":
        return restore_maincf(current, lkg, inputs.postfix, path)
    if name == "master.cf":
        keys = _master_keys([current, lkg], path, inputs.postfix)
        return restore_mastercf(current, lkg, keys, path)
    raise SurgeryImpossible("not a file maildrift edits surgically", path)


def plan_revert(
    inputs: Inputs,
    lkg: Mapping[str, FileState],
    lkg_content: Callable[[str], bytes | None],
    current: Mapping[str, FileState],
    current_content: Mapping[str, bytes],
    *,
    whole_file: bool = False,
    dovecot_files: frozenset[str] = frozenset(),
) -> Plan:
    """The writes and chmods that bring the group's inputs back to their LKG values."""
    writes: list[FileWrite] = []
    metas: list[MetaRestore] = []
    problems: list[str] = []
    for path, then in sorted(lkg.items()):
        now = current.get(path)
        if not then.exists:
            continue  # a file created since: leave it; the candidate check decides
        meta_drift = now is not None and now.exists and then.meta != now.meta
        if then.sha256 is None or (now is not None and now.sha256 == then.sha256):
            if meta_drift and inputs.metadata:
                metas.append(MetaRestore(path, then.meta))
            continue
        old = lkg_content(then.sha256)
        if old is None:
            problems.append(f"{path}: last-known-good content is missing")
            continue
        meta = then.meta if (meta_drift and inputs.metadata) else (now.meta if now else then.meta)
        data = current_content.get(path) if now is not None and now.exists else None
        if data is None or whole_file:
            expected = now.sha256 if now is not None and now.exists else None
            reason = "missing" if data is None else "requested"
            writes.append(FileWrite(path, old, expected, "whole_file", meta, reason))
            continue
        text, lkg_text = (d.decode("utf-8", "surrogateescape") for d in (data, old))
        try:
            new = _surgical(path, text, lkg_text, inputs, dovecot_files)
        except SurgeryImpossible as exc:
            writes.append(FileWrite(path, old, now.sha256, "whole_file", meta, exc.reason))
            continue
        if new != text:
            encoded = new.encode("utf-8", "surrogateescape")
            writes.append(FileWrite(path, encoded, now.sha256, "surgical", meta))
        elif meta_drift and inputs.metadata:
            metas.append(MetaRestore(path, then.meta))
    return Plan(tuple(writes), tuple(metas), tuple(problems))
