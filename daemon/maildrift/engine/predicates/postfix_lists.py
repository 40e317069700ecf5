"""Predicates over Postfix lists: event-limit exceptions, relay restrictions, unknown names."""

from __future__ import annotations

import functools
import ipaddress

from maildrift.engine.env import Env
from maildrift.engine.results import Outcome
from maildrift.engine.secrets import table_files
from maildrift.engine.values import split_list
from maildrift.postfix.usage import unused_main_names, unused_override_names

__all__ = [
    "event_limit_exceptions",
    "mynetworks_narrow",
    "relay_restrictions",
    "unknown_parameters",
]

_WILDCARDS = {"0.0.0.0/0", "::/0", "[::]/0", "[::/0]", "static:all", "0/0"}
_READABLE = {"cidr", "pcre", "texthash", "file", "regexp"}


def _table_tokens(content: bytes, kind: str) -> list[str]:
    tokens = []
    for line in content.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        tokens += split_list(line) if kind == "file" else [line.split()[0]]
    return tokens


def event_limit_exceptions(env: Env) -> Outcome:
    """No wildcard network is exempt from the anvil limits, in lists or in readable tables."""
    value = env.postfix_value("smtpd_client_event_limit_exceptions")
    params = ("smtpd_client_event_limit_exceptions",)
    if value.unknown:
        return Outcome(
            "error",
            actual=value.text,
            file=value.file,
            line=value.line,
            message=f"depends on {', '.join(sorted(value.unknown))}, unknown for "
            "this host (give --host-facts)",
            parameters=params,
        )
    found = [t for t in split_list(value.text) if t.lower() in _WILDCARDS]
    for kind, path in table_files(value.text):
        if kind not in _READABLE:
            return Outcome(
                "error",
                actual=f"{kind}:{path}",
                file=value.file,
                line=value.line,
                message=f"cannot read a {kind} table; list the networks in a cidr "
                "or texthash table instead",
                parameters=params,
            )
        info = env.mail.files.get(path)
        if not info.exists or info.content is None:
            return Outcome(
                "error",
                actual=f"{kind}:{path}",
                file=value.file,
                line=value.line,
                message=f"{path}: {info.error or 'cannot be read'}",
                parameters=params,
            )
        found += [
            f"{t} in {path}" for t in _table_tokens(info.content, kind) if t.lower() in _WILDCARDS
        ]
    return Outcome(
        "fail" if found else "pass",
        actual=value.text + (f" (exempts {', '.join(found)})" if found else ""),
        expected="no wildcard network",
        file=value.file,
        line=value.line,
        parameters=params,
    )


_PERMIT = "permit"
_STOPS = {"reject_unauth_destination", "defer_unauth_destination", "reject"}


def relay_restrictions(env: Env) -> Outcome:
    """Relay restrictions reach reject_unauth_destination (or reject) before any permit."""
    relay = env.postfix_value("smtpd_relay_restrictions")
    value = relay if relay.text.strip() else env.postfix_value("smtpd_recipient_restrictions")
    params = ("smtpd_relay_restrictions", "smtpd_recipient_restrictions")
    verdict = "fail"
    for item in split_list(value.text):
        lowered = item.lower()
        if lowered in _STOPS:
            verdict = "pass"
            break
        if lowered == _PERMIT:
            break
    outcome = Outcome(
        verdict,
        actual=f"{value.name} = {value.text}",
        expected="reject_unauth_destination before any permit",
        file=value.file,
        line=value.line,
        parameters=params,
    )
    if verdict == "pass":
        # An -o mynetworks on a service opens that service alone.
        return mynetworks_narrow(env)
    return outcome


@functools.lru_cache(maxsize=1024)
def _too_wide(item: str, max_prefix_v4: int, max_prefix_v6: int) -> int:
    """The prefix limit ``item`` breaks (a wildcard, or public and wider), else 0."""
    try:
        network = ipaddress.ip_network(item.replace("[", "").replace("]", ""), strict=False)
    except ValueError:
        return 0
    limit = max_prefix_v4 if network.version == 4 else max_prefix_v6
    public = not (network.is_private or network.is_loopback or network.is_link_local)
    return limit if network.prefixlen == 0 or (public and network.prefixlen < limit) else 0


def mynetworks_narrow(env: Env, max_prefix_v4: int = 24, max_prefix_v6: int = 64) -> Outcome:
    value = env.postfix_value("mynetworks")
    if value.unknown:
        return Outcome(
            "error",
            actual="",
            message="mynetworks depends on host facts (give --host-facts)",
            parameters=("mynetworks",),
        )
    for item in split_list(value.text):
        limit = _too_wide(item, max_prefix_v4, max_prefix_v6)
        if limit:
            return Outcome(
                "fail",
                actual=f"mynetworks includes {item}",
                expected=f"no wildcard or public network wider than /{limit}",
                file=value.file,
                line=value.line,
                parameters=("mynetworks",),
            )
    return Outcome(
        "pass",
        actual="relay restrictions and mynetworks are tight",
        parameters=("smtpd_relay_restrictions", "mynetworks"),
    )


def unknown_parameters(env: Env) -> Outcome:
    """No main.cf name or -o name that Postfix does not know (a typo silently does nothing)."""
    config = env.target.postfix
    names = []
    first_file = first_line = None
    for warning in unused_main_names(config):
        name = warning.message.split(": ", 1)[1].split("=", 1)[0]
        assignment = config.main.get(name)
        names.append(name)
        if first_file is None:
            first_file, first_line = assignment.file, assignment.line
    for key, name, warning in unused_override_names(config):
        names.append(f"{key} -o {name}")
        if first_file is None:
            first_file, first_line = warning.file, warning.line
    if names:
        return Outcome(
            "fail",
            actual="unknown to Postfix: " + ", ".join(names),
            expected="only parameters Postfix knows",
            file=first_file,
            line=first_line,
            parameters=tuple(names),
        )
    return Outcome("pass", actual="every name is known")
