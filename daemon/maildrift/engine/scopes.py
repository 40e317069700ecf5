"""Expanding a rule's scopes into the places it is judged (one result each)."""

from __future__ import annotations

from maildrift.engine.env import Target
from maildrift.engine.mailconfig import MailConfig
from maildrift.policy.scope import glob_match, is_glob

__all__ = ["expand_scope"]


def _head(instance: str) -> str:
    return f"postfix@{instance}" if instance else "postfix"


def expand_scope(scope, mail: MailConfig, exclude: tuple[str, ...] = ()) -> tuple[Target, ...]:
    """Targets for one scope; ``exclude`` globs drop smtpd services by ``SERVICE/TYPE``."""
    # Most rules share a handful of scopes; the loaded configuration does not change.
    # Keyed by the canonical text, kept on the (immutable) scope: hashing the
    # dataclass costs more than the lookup itself.
    text = scope.__dict__.get("_text")
    if text is None:
        text = str(scope)
        object.__setattr__(scope, "_text", text)
    key = ("targets", text, exclude)
    targets = mail.memo.get(key)
    if targets is None:
        targets = mail.memo[key] = tuple(_expand(scope, mail, exclude))
    return targets


def _expand(scope, mail: MailConfig, exclude: tuple[str, ...]) -> tuple[Target, ...]:
    if scope.component == "cross":
        config = mail.postfix[0] if mail.postfix else None
        return [Target("cross", "cross", postfix=config)]
    if scope.component == "dovecot":
        if scope.kind == "global":
            return [Target("dovecot:global", "dovecot")]
        return [Target(str(scope), "dovecot", filters=((scope.kind, scope.name),))]
    targets = []
    for config in mail.postfix:
        if scope.instance is not None and not glob_match(scope.instance, config.instance):
            continue
        head = _head(config.instance)
        if scope.kind == "main":
            targets.append(Target(f"{head}:main", "postfix", config.instance, config))
            continue
        services = config.master.effective_services()
        if scope.kind == "command":
            # A plain command name (smtpd, as every shipped rule says) needs no glob.
            name = scope.name
            if is_glob(name):
                services = [s for s in services if glob_match(name, s.command)]
            else:
                services = config.master.running(name)
            if exclude:
                services = [s for s in services if not any(glob_match(p, s.key) for p in exclude)]
        else:
            services = [
                s
                for s in services
                if glob_match(scope.name, s.service) and glob_match(scope.service_type, s.type)
            ]
        for service in services:
            targets.append(
                Target(f"{head}:{service.key}", "postfix", config.instance, config, service)
            )
    return tuple(targets)
