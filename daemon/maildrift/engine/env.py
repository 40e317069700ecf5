"""Where a check is evaluated: the target scope, and reading a parameter there."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

from maildrift.engine.mailconfig import MailConfig
from maildrift.errors import ConfigError

__all__ = ["Env", "Target", "Value"]


@dataclass(frozen=True)
class Target:
    """One place a rule applies to; ``scope`` is its canonical spelling."""

    scope: str
    component: str
    instance: str = ""
    postfix: object = None
    service: object = None
    #: Dovecot filter context, e.g. (("protocol", "imap"),).
    filters: tuple[tuple[str, str], ...] = ()
    #: Inside a Dovecot ``section`` check: the section being judged.
    section: object = None


class Value(NamedTuple):
    """A parameter's value where it is judged, with provenance (a NamedTuple, as Outcome)."""

    name: str
    text: str
    file: str | None
    line: int | None
    explicit: bool
    unknown: frozenset[str] = frozenset()


class Env(NamedTuple):
    """What a check reads: the configuration, the place judged, the policy's params."""

    mail: MailConfig
    target: Target
    params: object

    def at(self, **changes) -> Env:
        return Env(self.mail, replace(self.target, **changes), self.params)

    @property
    def service_key(self) -> str | None:
        return self.target.service.key if self.target.service is not None else None

    def postfix_value(self, name: str, service: str | None = "__target__") -> Value:
        config = self.target.postfix
        if config is None:
            config = self.mail.postfix[0] if self.mail.postfix else None
        if config is None:
            raise ConfigError("no Postfix configuration to judge")
        key = self.service_key if service == "__target__" else service
        if config.reads is not None:  # before the memo: a hit must be recorded too
            config.reads.add(name)
        # Many rules read the same names per service; the model is immutable, and the
        # daemon reuses it while its files are unchanged, so the memo lives on it.
        memo_key = ("engine-value", name, key)
        value = config._cache.get(memo_key)
        if value is None:
            setting = config.setting(name, key)
            expanded = config.expand_setting(setting)
            value = Value(
                name, expanded.text, setting.file, setting.line, setting.explicit, expanded.unknown
            )
            config._cache[memo_key] = value
        return value

    def dovecot_value(self, name: str) -> Value:
        section = self.target.section
        if section is not None:
            setting = section.get(name)
            if setting is None:
                return Value(name, "", None, None, False)
            return Value(name, setting.value, setting.file, setting.line, True)
        if self.mail.dovecot is None:
            raise ConfigError("no Dovecot configuration to judge")
        text, setting = self.mail.dovecot_value(name, **dict(self.target.filters))
        if setting is None:
            return Value(name, text, None, None, False)
        return Value(name, text, setting.file, setting.line, True)

    def value(self, param) -> Value:
        if param.component == "dovecot":
            return self.dovecot_value(param.name)
        return self.postfix_value(param.name)
