"""Predicates about Dovecot: the auth listeners Postfix uses, SSL and plaintext logins."""

from __future__ import annotations

import os

from maildrift.engine.env import Env
from maildrift.engine.results import Outcome
from maildrift.engine.values import ValueError_, dovecot_number, postfix_bool

__all__ = [
    "auth_inet_listener",
    "dovecot_auth_listener",
    "dovecot_plaintext_auth",
    "dovecot_ssl",
    "sasl_socket_path",
]

#: Dovecot's default for a unix_listener without ``mode``.
_DEFAULT_LISTENER_MODE = 0o600


def sasl_socket_path(env: Env) -> str | None:
    """Where smtpd connects for SASL: queue_directory/smtpd_sasl_path; None for inet:."""
    path = env.postfix_value("smtpd_sasl_path").text.strip()
    if path.startswith("inet:"):
        return None
    queue = env.postfix_value("queue_directory").text.strip()
    return os.path.normpath(os.path.join(queue, path))


def _auth_listeners(env: Env, kind: str) -> list:
    return [
        listener
        for service in env.mail.dovecot.sections("service", "auth")
        for listener in service.find(kind)
    ]


def dovecot_auth_listener(env: Env, allowed_mask: int = 0o660) -> Outcome:
    """service auth has a unix_listener at Postfix's socket, which Postfix may open."""
    if env.mail.dovecot is None:
        return Outcome("error", message="no Dovecot configuration to judge")
    path = sasl_socket_path(env)
    if path is None:
        return Outcome("not_applicable", message="smtpd_sasl_path is an inet: address")
    params = ("smtpd_sasl_path", "dovecot:service/unix_listener/mode")
    found = _auth_listeners(env, "unix_listener")
    listener = next((item for item in found if item.name == path), None)
    if listener is None:
        return Outcome(
            "fail",
            actual=f"no unix_listener {path} in service auth",
            expected=f"service auth {{ unix_listener {path} {{ ... }} }}",
            parameters=params,
        )
    mode_setting = listener.get("mode")
    where = listener.defined_at[-1] if listener.defined_at else None
    file = mode_setting.file if mode_setting else (where.file if where else None)
    line = mode_setting.line if mode_setting else (where.line if where else None)
    try:
        mode = dovecot_number(mode_setting.value) if mode_setting else _DEFAULT_LISTENER_MODE
    except ValueError_ as exc:
        return Outcome(
            "error",
            actual=mode_setting.value,
            file=file,
            line=line,
            message=str(exc),
            parameters=params,
        )
    user = listener.value("user") or "root"
    group = listener.value("group") or "root"
    owner = env.postfix_value("mail_owner").text.strip() or "postfix"
    actual = f"unix_listener {path}: mode {mode:04o}, user {user}, group {group}"
    if mode & ~allowed_mask:
        return Outcome(
            "fail",
            actual=actual,
            expected=f"mode within {allowed_mask:04o}",
            file=file,
            line=line,
            parameters=params,
        )
    can_connect = (user == owner and mode & 0o200) or (group == owner and mode & 0o020)
    if not can_connect:
        return Outcome(
            "fail",
            actual=actual,
            expected=f"{owner} (mail_owner) may connect: write permission for it as user or group",
            file=file,
            line=line,
            parameters=params,
        )
    return Outcome(
        "pass",
        actual=actual,
        expected="0660-or-stricter, open to mail_owner",
        file=file,
        line=line,
        parameters=params,
    )


def _wildcard(address: str) -> bool:
    items = [a.strip() for a in address.replace(",", " ").split()]
    return any(a in ("*", "::", "0.0.0.0", "[::]") for a in items)


def auth_inet_listener(env: Env) -> Outcome:
    listeners = _auth_listeners(env, "inet_listener")
    if not listeners:
        return Outcome("not_applicable", message="service auth has no inet_listener")
    for listener in listeners:
        setting = listener.get("address")
        if setting is not None:
            address, file, line = setting.value, setting.file, setting.line
        else:
            value = env.dovecot_value("listen")
            address, file, line = value.text, value.file, value.line
        if _wildcard(address):
            return Outcome(
                "fail",
                actual=f"inet_listener {listener.name} on {address}",
                expected="a specific address, no wildcard",
                file=file,
                line=line,
                parameters=("dovecot:service/inet_listener/address",),
            )
    return Outcome("pass", actual="auth inet listeners bind specific addresses")


def _file_value(text: str) -> str:
    text = text.strip()
    return text[1:].strip() if text.startswith("<") else text


def dovecot_ssl(env: Env) -> Outcome:
    ssl = env.dovecot_value("ssl")
    if ssl.text.strip().lower() not in ("yes", "required"):
        return Outcome(
            "fail",
            actual=f"ssl = {ssl.text}",
            expected="ssl = yes or required",
            file=ssl.file,
            line=ssl.line,
            parameters=("ssl",),
        )
    names = ("ssl_cert", "ssl_key")
    if env.mail.dovecot.version == "2.4":
        names = ("ssl_server_cert_file", "ssl_server_key_file")
    for name in names:
        value = env.dovecot_value(name)
        path = _file_value(value.text)
        if not path:
            return Outcome(
                "fail",
                actual=f"{name} is not set",
                expected=f"{name} set",
                file=ssl.file,
                line=ssl.line,
                parameters=names,
            )
        if not env.mail.files.get(path).exists:
            return Outcome(
                "fail",
                actual=f"{name}: {path} is missing",
                expected="certificate and key files exist",
                file=value.file,
                line=value.line,
                parameters=names,
            )
    return Outcome("pass", actual=f"ssl = {ssl.text}", parameters=("ssl", *names))


def dovecot_plaintext_auth(env: Env) -> Outcome:
    if env.mail.dovecot.version == "2.4":
        value = env.dovecot_value("auth_allow_cleartext")
        ok = postfix_bool(value.text) is False
        expected = "auth_allow_cleartext = no"
    else:
        value = env.dovecot_value("disable_plaintext_auth")
        ok = bool(postfix_bool(value.text))
        expected = "disable_plaintext_auth = yes"
    return Outcome(
        "pass" if ok else "fail",
        actual=f"{value.name} = {value.text}",
        expected=expected,
        file=value.file,
        line=value.line,
        parameters=(value.name,),
    )
