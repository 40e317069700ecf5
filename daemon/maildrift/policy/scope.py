"""Rule scopes: which part of which configuration a rule judges.

Grammar (``INSTANCE`` is a postmulti instance name; without ``@INSTANCE`` a
Postfix scope applies to every instance)::

    postfix[@INSTANCE]:main               main.cf
    postfix[@INSTANCE]:SERVICE/TYPE       one master.cf service; SERVICE and TYPE may be globs
    postfix[@INSTANCE]:command=COMMAND    every master.cf service running COMMAND (e.g. smtpd)
    dovecot:global                        settings outside any filter section
    dovecot:protocol=NAME                 inside ``protocol NAME { }``
    dovecot:local=NET                     inside ``local NET { }``   (NET: address, network or *)
    dovecot:remote=NET                    inside ``remote NET { }``
    dovecot:local_name=HOST               inside ``local_name HOST { }`` (TLS SNI)
    cross                                 judged across Postfix and Dovecot together

Globs know only ``*`` (any run of characters) and ``?`` (one character), so the
brackets of an IPv6 service like ``[::1]:10025`` stay literal.

>>> str(parse_scope("postfix@postfix-out:submission/inet"))
'postfix@postfix-out:submission/inet'
>>> parse_scope("postfix:command=smtpd").kind
'command'
>>> str(parse_scope("dovecot:remote=2001:DB8::/32"))
'dovecot:remote=2001:db8::/32'
>>> parse_scope("postfix:smtp/inett", "rules.yaml", 7)
Traceback (most recent call last):
...
maildrift.errors.ConfigError: rules.yaml:7: scope 'postfix:smtp/inett': unknown service \
type 'inett' (did you mean 'inet'?)
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass

from maildrift.errors import ConfigError
from maildrift.policy.nodes import suggest

__all__ = [
    "COMPONENTS",
    "SERVICE_TYPES",
    "Scope",
    "glob_match",
    "is_glob",
    "parse_scope",
]

#: Components a scope, an input or a qualified parameter name may name.
COMPONENTS = ("postfix", "dovecot", "cross")
#: master.cf service types (the second field).
SERVICE_TYPES = ("inet", "unix", "unix-dgram", "fifo", "pass")

_INSTANCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_COMMAND = re.compile(r"[A-Za-z0-9_*?][A-Za-z0-9._*?-]*\Z")
_SERVICE = re.compile(r"[^\s/,=]+\Z")
_TYPE_GLOB = re.compile(r"[a-z*?-]+\Z")
_PROTOCOL = re.compile(r"!?[a-z0-9*?][a-z0-9_*?-]*\Z")
_HOSTNAME = re.compile(r"[A-Za-z0-9*?]([A-Za-z0-9*?.-]*[A-Za-z0-9*?])?\Z")
_POSTFIX_FORMS = "main, SERVICE/TYPE or command=COMMAND"
_DOVECOT_FORMS = "global, protocol=NAME, local=NET, remote=NET or local_name=HOST"


def is_glob(text: str) -> bool:
    return "*" in text or "?" in text


def glob_match(pattern: str, text: str) -> bool:
    """Whether ``text`` matches ``pattern`` (``*`` and ``?`` only; case matters).

    >>> glob_match("postfix:*/inet", "postfix:[::1]:25/inet"), glob_match("s?tp", "smtps")
    (True, False)
    """
    if not is_glob(pattern):
        return pattern == text
    return _compiled_glob(pattern).fullmatch(text) is not None


@functools.lru_cache(maxsize=1024)
def _compiled_glob(pattern: str) -> re.Pattern[str]:
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile(regex, re.DOTALL)


@dataclass(frozen=True)
class Scope:
    """One parsed scope; ``str()`` gives the canonical spelling."""

    component: str
    kind: str
    #: Postfix instance name; None means every instance.
    instance: str | None = None
    #: Service name, command, protocol, network or host, per ``kind``; may be a glob.
    name: str | None = None
    #: master.cf service type for ``kind == "service"``; may be a glob.
    service_type: str | None = None

    def __str__(self) -> str:
        if self.component == "cross":
            return "cross"
        if self.component == "dovecot":
            return "dovecot:global" if self.kind == "global" else f"dovecot:{self.kind}={self.name}"
        head = "postfix" if self.instance is None else f"postfix@{self.instance}"
        if self.kind == "main":
            return f"{head}:main"
        if self.kind == "command":
            return f"{head}:command={self.name}"
        return f"{head}:{self.name}/{self.service_type}"

    @property
    def is_pattern(self) -> bool:
        """Whether the scope names several places (a glob, or a command's services)."""
        parts = (self.name or "", self.service_type or "")
        return self.kind == "command" or any(is_glob(p) for p in parts)


def parse_scope(text: str, file: str | None = None, line: int | None = None) -> Scope:
    """Parse a scope string; raise ConfigError (at ``file``:``line``) if it is wrong."""

    def bad(why: str) -> ConfigError:
        return ConfigError(f"scope {text!r}: {why}", file, line)

    if not isinstance(text, str):
        raise ConfigError(f"a scope must be a string, not {type(text).__name__}", file, line)
    if text == "cross":
        return Scope("cross", "cross")
    head, colon, rest = text.partition(":")
    component, at, instance = head.partition("@")
    if not colon or component not in ("postfix", "dovecot"):
        raise bad(
            f"must start with postfix:, postfix@INSTANCE:, dovecot: or be cross"
            f"{suggest(component, COMPONENTS)}"
        )
    if component == "dovecot":
        if at:
            raise bad("Dovecot scopes have no @instance")
        return _parse_dovecot(rest, bad)
    if at and not _INSTANCE.match(instance):
        raise bad(f"bad instance name {instance!r}")
    return _parse_postfix(rest, instance if at else None, bad)


def _parse_postfix(rest: str, instance: str | None, bad) -> Scope:
    if rest == "main":
        return Scope("postfix", "main", instance)
    if rest.startswith("command="):
        command = rest[len("command=") :]
        if not _COMMAND.match(command):
            raise bad(f"bad command name {command!r}")
        return Scope("postfix", "command", instance, command)
    service, slash, service_type = rest.rpartition("/")
    if not slash:
        raise bad(f"expected {_POSTFIX_FORMS} after postfix: (e.g. postfix:{rest or 'smtp'}/inet)")
    if not _SERVICE.match(service):
        raise bad(f"bad service name {service!r}")
    if is_glob(service_type):
        if not _TYPE_GLOB.match(service_type):
            raise bad(f"bad service type pattern {service_type!r}")
    elif service_type not in SERVICE_TYPES:
        raise bad(f"unknown service type {service_type!r}{suggest(service_type, SERVICE_TYPES)}")
    return Scope("postfix", "service", instance, service, service_type)


def _parse_dovecot(rest: str, bad) -> Scope:
    if rest == "global":
        return Scope("dovecot", "global")
    kind, eq, value = rest.partition("=")
    kinds = ("protocol", "local", "remote", "local_name")
    if not eq or kind not in kinds:
        raise bad(f"expected {_DOVECOT_FORMS} after dovecot:{suggest(kind, (*kinds, 'global'))}")
    if kind == "protocol":
        if not _PROTOCOL.match(value):
            raise bad(f"bad protocol name {value!r}")
        return Scope("dovecot", kind, name=value)
    if kind == "local_name":
        if not _HOSTNAME.match(value):
            raise bad(f"bad host name {value!r}")
        return Scope("dovecot", kind, name=value.lower())
    return Scope("dovecot", kind, name=_network(value, bad))


def _network(value: str, bad) -> str:
    """The canonical spelling of a Dovecot ``local``/``remote`` network, or ``*``."""
    if value == "*":
        return value
    try:
        net = ipaddress.ip_network(value)
    except ValueError:
        try:
            loose = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise bad(f"{value!r} is not an IP address, a network or *") from None
        raise bad(f"network {value!r} has host bits set (did you mean {str(loose)!r}?)") from None
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return str(net)
