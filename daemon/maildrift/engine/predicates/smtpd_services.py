"""Predicates about master.cf smtpd services: exposure, SASL, process limits, readers."""

from __future__ import annotations

import functools
import ipaddress
import re

from maildrift.engine.env import Env
from maildrift.engine.results import Outcome
from maildrift.engine.values import ValueError_, postfix_bool, split_list

__all__ = [
    "exposed_service",
    "is_loopback_only",
    "reader_range",
    "sasl_enabled",
    "sasl_enabled_somewhere",
    "sasl_path_valid",
    "sasl_service",
    "smtpd_process_limits",
]

_LOOPBACK_NAMES = {"localhost", "loopback-only"}


@functools.lru_cache(maxsize=256)
def _is_loopback_host(host: str) -> bool:
    host = host.strip("[]")
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_only(config, service) -> bool:
    """Whether an smtpd service can only be reached from this host."""
    if service.type != "inet":
        return False
    host, sep, _port = service.service.rpartition(":")
    if sep and host:
        return _is_loopback_host(host)
    interfaces = split_list(config.expanded("inet_interfaces").text)
    return bool(interfaces) and all(_is_loopback_host(i) for i in interfaces)


# Outcomes are immutable: the gates most rules start with share theirs.
_PASS = Outcome("pass")
_SASL_OFF = Outcome("not_applicable", message="SASL is off for this service")


def exposed_service(env: Env) -> Outcome:
    """not_applicable for services bound only to loopback (content-filter re-injection)."""
    service = env.target.service
    if service is None or not is_loopback_only(env.target.postfix, service):
        return _PASS
    return Outcome("not_applicable", message=f"{service.key} listens on loopback only")


def sasl_enabled(config, service) -> bool:
    key = service.key if service else None
    if config.reads is not None:  # before the memo: a hit must be recorded too
        config.reads.add("smtpd_sasl_auth_enable")
    # Most SASL rules ask this for every smtpd service; the model is immutable.
    cached = config._cache.get(("sasl-enabled", key))
    if cached is None:
        text = config.expanded("smtpd_sasl_auth_enable", key).text
        cached = config._cache[("sasl-enabled", key)] = bool(postfix_bool(text))
    return cached


def sasl_service(env: Env) -> Outcome:
    """not_applicable unless SASL is effectively on for this smtpd service."""
    if sasl_enabled(env.target.postfix, env.target.service):
        return _PASS
    return _SASL_OFF


def sasl_enabled_somewhere(env: Env, none_param: str = "sasl") -> Outcome:
    """At least one smtpd service that is not loopback-only offers SASL."""
    if str(env.params.get(none_param, "dovecot")).lower() == "none":
        return Outcome("not_applicable", message="the site declares sasl: none")
    config = env.target.postfix
    services = config.master.running("smtpd")
    exposed = [s for s in services if not is_loopback_only(config, s)]
    enabled = [s.key for s in exposed if sasl_enabled(config, s)]
    setting = config.setting("smtpd_sasl_auth_enable")
    if enabled:
        return Outcome(
            "pass",
            actual="on for " + ", ".join(enabled),
            expected="on somewhere",
            parameters=("smtpd_sasl_auth_enable",),
        )
    return Outcome(
        "fail",
        actual="off on every exposed smtpd service",
        expected="yes on at least one smtpd service (e.g. submission)",
        file=setting.file,
        line=setting.line,
        parameters=("smtpd_sasl_auth_enable",),
    )


_PRIVATE = re.compile(r"^private/[A-Za-z0-9._-]+$")
_INET = re.compile(r"^inet:(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]+$")


def sasl_path_valid(env: Env) -> Outcome:
    value = env.postfix_value("smtpd_sasl_path")
    ok = bool(_PRIVATE.match(value.text.strip()) or _INET.match(value.text.strip()))
    return Outcome(
        "pass" if ok else "fail",
        actual=value.text,
        expected="private/NAME or inet:HOST:PORT",
        file=value.file,
        line=value.line,
        parameters=("smtpd_sasl_path",),
    )


def smtpd_process_limits(env: Env, max: int = 100) -> Outcome:
    """No smtpd service runs unlimited (0) or above ``max`` processes."""
    config = env.target.postfix
    for service in config.master.running("smtpd"):
        limit = config.process_limit(service)
        if limit is None or limit == 0 or limit > max:
            shown = "unlimited (0)" if limit == 0 else str(limit)
            return Outcome(
                "fail",
                actual=f"{service.key} process limit {shown}",
                expected=f"1..{max}",
                file=service.file,
                line=service.line,
                parameters=("default_process_limit",),
            )
    return Outcome("pass", actual="every smtpd service within the limit", expected=f"1..{max}")


def reader_range(env: Env, param: str, reader: str, kind: str = "int", min=None, max=None):
    """A parameter judged where its one reader (e.g. anvil) takes it: -o there, else main.cf."""
    from maildrift.engine.operators import quantity_of

    config = env.target.postfix
    readers = config.master.running(reader)
    service = readers[0] if readers else None
    value = env.postfix_value(param, service.key if service else None)
    try:
        number = quantity_of(env, value, kind)
    except ValueError_ as exc:
        return Outcome(
            "error",
            actual=value.text,
            file=value.file,
            line=value.line,
            message=str(exc),
            parameters=(param,),
        )
    ok = (min is None or number >= float(min)) and (max is None or number <= float(max))
    bounds = " and ".join(
        b for b in (min is not None and f">= {min}", max is not None and f"<= {max}") if b
    )
    where = f" (read by {reader})"
    return Outcome(
        "pass" if ok else "fail",
        actual=value.text + where,
        expected=bounds,
        file=value.file,
        line=value.line,
        parameters=(param,),
    )
