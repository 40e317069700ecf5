"""Loading everything one evaluation judges, for ``check`` and the daemon alike."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType

from maildrift.dovecot.loader import load_dovecot
from maildrift.engine.mailconfig import MailConfig
from maildrift.engine.snapshot import take_snapshot
from maildrift.errors import ConfigError
from maildrift.loadcache import LoadCache, RecordingReader, files_read
from maildrift.postfix.loader import load_postfix_instances
from maildrift.wiring import Sources

__all__ = ["dovecot_defaults", "load_mail_config"]


@functools.lru_cache(maxsize=4)
def _dovecot_defaults(version: str) -> tuple[tuple[str, str], ...]:
    name = "dovecot-defaults-2.4.txt" if version == "2.4" else "dovecot-defaults-2.3.txt"
    text = resources.files("maildrift").joinpath("data", name).read_text(encoding="utf-8")
    found = []
    for line in text.splitlines():
        if line.startswith("#") or " =" not in line:
            continue
        key, _, value = line.partition(" =")
        found.append((key.strip(), value.strip()))
    return tuple(found)


@functools.lru_cache(maxsize=4)
def dovecot_defaults(version: str) -> Mapping[str, str]:
    """Dovecot's global defaults for a config syntax version (2.3 or 2.4), read once.

    Read-only: every load shares the one table.
    """
    return MappingProxyType(dict(_dovecot_defaults(version)))


def _load_dovecot(config_file: str, reader, defaults: dict[str, str]):
    dovecot = load_dovecot(config_file, reader, defaults=defaults)
    dovecot.check_conflicts()
    return dovecot


class _Uncached:
    """The cache's interface without caching: every load reads and parses."""

    def __init__(self) -> None:
        self._calls: dict[object, list] = {}

    def load(self, key, reader, loader):
        recorder = RecordingReader(reader)
        try:
            return loader(recorder)
        finally:
            self._calls[key] = recorder.calls

    def reads(self, key) -> list:
        return self._calls.get(key, [])


def load_mail_config(
    sources: Sources, components=("postfix", "dovecot"), cache: LoadCache | None = None
) -> MailConfig:
    """Load Postfix and Dovecot; a component that cannot be read records its error.

    With a ``cache`` (the daemon's), a component whose files all read the same
    as last time is not parsed again: its previous model is reused.
    """
    mail = MailConfig()
    cache = cache if cache is not None else _Uncached()
    load = cache.load
    if "postfix" in components:
        try:
            mail.postfix = list(
                load(
                    ("postfix", sources.postfix_dir),
                    sources.reader,
                    lambda reader: load_postfix_instances(
                        sources.postfix_dir, reader, sources.defaults, sources.facts, sources.params
                    ),
                )
            )
        except ConfigError as exc:
            mail.errors["postfix"] = exc
    if "dovecot" in components:
        try:
            defaults = dovecot_defaults("2.3")
            mail.dovecot = load(
                ("dovecot", sources.dovecot_config),
                sources.reader,
                lambda reader: _load_dovecot(sources.dovecot_config, reader, defaults),
            )
        except ConfigError as exc:
            mail.errors["dovecot"] = exc
            mail.dovecot = None
    if mail.dovecot is not None:
        mail.dovecot_defaults = dovecot_defaults(mail.dovecot.version)
    mail.files = take_snapshot(sources.reader, mail.postfix, mail.dovecot)
    # The bytes judged, as read: enforce mode keeps them as last-known-good.
    for key in (("postfix", sources.postfix_dir), ("dovecot", sources.dovecot_config)):
        mail.read.update(files_read(cache.reads(key)))
    return mail
