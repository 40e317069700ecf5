"""The whole configuration being judged: Postfix instances, Dovecot, and file facts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from maildrift.dovecot.model import DovecotConfig
from maildrift.engine.filefacts import FileFacts
from maildrift.errors import ConfigError
from maildrift.postfix.model import PostfixConfig

__all__ = ["MailConfig"]


@dataclass
class MailConfig:
    """What :func:`maildrift.engine.evaluate.evaluate` judges.

    A component that could not be read has its error in ``errors`` instead of a
    model; its rules then give ``error`` results naming the file and line.
    """

    postfix: list[PostfixConfig] = field(default_factory=list)
    dovecot: DovecotConfig | None = None
    files: FileFacts = field(default_factory=FileFacts)
    errors: dict[str, ConfigError] = field(default_factory=dict)
    #: Dovecot's built-in defaults of global settings, by name.
    dovecot_defaults: Mapping[str, str] = field(default_factory=dict)
    #: Configured path -> FileData of every configuration file the loaders read.
    read: dict = field(default_factory=dict, repr=False, compare=False)
    #: Derived facts (scope targets), valid once loading has filled the fields above.
    memo: dict = field(default_factory=dict, repr=False, compare=False)

    def dovecot_value(self, name: str, **context: str | None) -> tuple[str, object]:
        """(value, Setting or None): the effective value, or the default when unset."""
        setting = self.dovecot.effective(name, **context) if self.dovecot else None
        if setting is not None:
            return setting.value, setting
        return self.dovecot_defaults.get(name, ""), None
