"""Predicates about Postfix TLS: effective levels, certificates, auth-only, protocols.

>>> sorted(enabled_protocols(">=TLSv1.2"))
['TLSv1.2', 'TLSv1.3']
>>> sorted(enabled_protocols("!SSLv2, !SSLv3"))
['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']
>>> sorted(enabled_protocols("TLSv1.2 TLSv1.3"))
['TLSv1.2', 'TLSv1.3']
"""

from __future__ import annotations

from maildrift.engine.env import Env
from maildrift.engine.results import Outcome
from maildrift.engine.values import postfix_bool, split_list

__all__ = [
    "PROTOCOLS",
    "cert_source",
    "enabled_protocols",
    "smtpd_tls_level",
    "smtpd_tls_ready",
    "tls_auth_only",
    "tls_level",
    "tls_protocols",
]

PROTOCOLS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_INDEX = {p.lower(): i for i, p in enumerate(PROTOCOLS)}


def enabled_protocols(value: str) -> set[str]:
    """Protocols a Postfix ``*_tls_protocols`` value leaves enabled."""
    items = split_list(value)
    low, high = 0, len(PROTOCOLS) - 1
    included: set[str] = set()
    excluded: set[str] = set()
    for item in items:
        lowered = item.lower()
        if lowered.startswith(">="):
            low = max(low, _INDEX.get(lowered[2:], low))
        elif lowered.startswith("<="):
            high = min(high, _INDEX.get(lowered[2:], high))
        elif lowered.startswith("!"):
            if lowered[1:] in _INDEX:
                excluded.add(PROTOCOLS[_INDEX[lowered[1:]]])
        elif lowered in _INDEX:
            included.add(PROTOCOLS[_INDEX[lowered]])
    enabled = set(included) if included else set(PROTOCOLS[low : high + 1])
    if included:
        enabled = {p for p in enabled if low <= _INDEX[p.lower()] <= high}
    return enabled - excluded


def _level(env: Env, side: str, service: str | None) -> tuple[str, object]:
    """The effective TLS level with the legacy use_tls/enforce_tls mapping."""
    if side == "smtpd":
        wrapper = env.postfix_value("smtpd_tls_wrappermode", service)
        if postfix_bool(wrapper.text):
            # Wrapper mode is TLS from the first byte, whatever the level says.
            return "encrypt", wrapper
    level = env.postfix_value(f"{side}_tls_security_level", service)
    if level.text.strip():
        return level.text.strip().lower(), level
    if postfix_bool(env.postfix_value(f"{side}_enforce_tls", service).text):
        return "encrypt", env.postfix_value(f"{side}_enforce_tls", service)
    if postfix_bool(env.postfix_value(f"{side}_use_tls", service).text):
        return "may", env.postfix_value(f"{side}_use_tls", service)
    return "none", level


def smtpd_tls_level(env: Env, service: str | None = "__target__") -> str:
    key = env.service_key if service == "__target__" else service
    return _level(env, "smtpd", key)[0]


def cert_source(env: Env, service: str | None) -> tuple[list[str], str]:
    """Certificate and key files configured for smtpd, and which form configures them."""
    chain = env.postfix_value("smtpd_tls_chain_files", service).text
    if split_list(chain):
        return split_list(chain), "smtpd_tls_chain_files"
    for cert, key in (
        ("smtpd_tls_cert_file", "smtpd_tls_key_file"),
        ("smtpd_tls_eccert_file", "smtpd_tls_eckey_file"),
    ):
        cert_path = env.postfix_value(cert, service).text.strip()
        key_path = env.postfix_value(key, service).text.strip()
        if cert_path and key_path:
            return [cert_path, key_path], cert
    return [], ""


def smtpd_tls_ready(env: Env, levels=("may", "encrypt")) -> Outcome:
    """TLS is offered: level may or encrypt, a certificate source, and its files exist."""
    key = env.service_key
    level, value = _level(env, "smtpd", key)
    params = ("smtpd_tls_security_level", "smtpd_tls_cert_file", "smtpd_tls_key_file")
    if level not in levels:
        return Outcome(
            "fail",
            actual=f"level {level}",
            expected="level " + " or ".join(levels),
            file=value.file,
            line=value.line,
            parameters=params,
        )
    files, form = cert_source(env, key)
    if not files:
        return Outcome(
            "fail",
            actual="no certificate configured",
            expected="smtpd_tls_chain_files, cert+key, or eccert+eckey",
            file=value.file,
            line=value.line,
            parameters=params,
        )
    missing = [p for p in files if not env.mail.files.get(p).exists]
    if missing:
        where = env.postfix_value(form, key)
        return Outcome(
            "fail",
            actual="missing " + ", ".join(missing),
            expected="certificate and key files exist",
            file=where.file,
            line=where.line,
            parameters=params,
        )
    return Outcome(
        "pass", actual=f"level {level}, {form}", expected="TLS offered", parameters=params
    )


def tls_level(env: Env, side: str = "smtp", allowed=()) -> Outcome:
    level, value = _level(env, side, env.service_key)
    return Outcome(
        "pass" if level in allowed else "fail",
        actual=level,
        expected="one of " + ", ".join(allowed),
        file=value.file,
        line=value.line,
        parameters=(f"{side}_tls_security_level",),
    )


def tls_auth_only(env: Env) -> Outcome:
    """AUTH only inside TLS: auth_only, or level encrypt, or wrappermode."""
    key = env.service_key
    auth_only = env.postfix_value("smtpd_tls_auth_only", key)
    level, _ = _level(env, "smtpd", key)
    wrapper = env.postfix_value("smtpd_tls_wrappermode", key)
    ok = (
        bool(postfix_bool(auth_only.text)) or level == "encrypt" or bool(postfix_bool(wrapper.text))
    )
    actual = f"smtpd_tls_auth_only = {auth_only.text}, level {level}, wrappermode {wrapper.text}"
    return Outcome(
        "pass" if ok else "fail",
        actual=actual,
        expected="smtpd_tls_auth_only = yes, or level encrypt, or wrappermode",
        file=auth_only.file,
        line=auth_only.line,
        parameters=("smtpd_tls_auth_only", "smtpd_tls_security_level"),
    )


def tls_protocols(env: Env, params=(), forbidden=("SSLv2", "SSLv3", "TLSv1", "TLSv1.1")):
    for name in params:
        value = env.postfix_value(name)
        enabled = enabled_protocols(value.text) & set(forbidden)
        if enabled:
            shown = ", ".join(p for p in PROTOCOLS if p in enabled)
            return Outcome(
                "fail",
                actual=f"{name} = {value.text} (enables {shown})",
                expected="excludes " + ", ".join(forbidden),
                file=value.file,
                line=value.line,
                parameters=tuple(params),
            )
    return Outcome("pass", actual="old protocols excluded", parameters=tuple(params))
