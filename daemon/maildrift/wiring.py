"""The composition root: builds the collaborators every command and the daemon share.

Nothing else in the package constructs readers, defaults or host facts; they
are passed in, so tests substitute their own.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from maildrift.filestore import TreeReader
from maildrift.hostfacts import HostFacts, local_host_facts, read_host_facts, unknown_host_facts
from maildrift.postfix.defaults import Defaults, local_defaults, shipped_defaults
from maildrift.postfix.params import ParamTable, load_param_table

__all__ = ["DEFAULT_POSTFIX_VERSION", "Sources", "build_sources"]

#: The table used when no Postfix is installed and none is named: RHEL 9's.
DEFAULT_POSTFIX_VERSION = "3.5"


@dataclass(frozen=True)
class Sources:
    """Where configuration comes from, and the tables it is judged with."""

    reader: TreeReader
    postfix_dir: str
    dovecot_config: str
    defaults: Defaults
    facts: HostFacts
    params: ParamTable


def _postconf() -> str | None:
    return shutil.which("postconf") or (
        "/usr/sbin/postconf" if os.access("/usr/sbin/postconf", os.X_OK) else None
    )


def build_sources(
    root: str | None = None,
    postfix_dir: str | None = None,
    dovecot_config: str | None = None,
    host_facts: str | None = None,
    postfix_version: str | None = None,
    candidates: dict[str, str] | None = None,
) -> Sources:
    reader = TreeReader(root, candidates=candidates)
    defaults = None
    if postfix_version:
        defaults = shipped_defaults(postfix_version)
    else:
        postconf = _postconf()
        defaults = local_defaults(postconf) if postconf else None
        defaults = defaults or shipped_defaults(DEFAULT_POSTFIX_VERSION)
    if host_facts:
        facts = read_host_facts(host_facts)
    elif root:
        facts = unknown_host_facts()
    else:
        facts = local_host_facts()
    return Sources(
        reader=reader,
        postfix_dir=postfix_dir or "/etc/postfix",
        dovecot_config=dovecot_config or "/etc/dovecot/dovecot.conf",
        defaults=defaults,
        facts=facts,
        params=load_param_table(),
    )
