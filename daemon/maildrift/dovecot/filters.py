"""Dovecot's filter scopes (``protocol``, ``local``, ``remote``, ``local_name``) and their matching.

This mirrors ``config-filter.c`` and ``config_filter_add_new_filter()`` of
Dovecot 2.3.19: how nested filters combine, which nestings are fatal, which
filters apply to a connection, and in which order their settings win.

>>> root = FilterSpec()
>>> net8 = root.nest("remote", "10.0.0.0/8", "f", 1)
>>> imap = net8.nest("protocol", "imap", "f", 2)
>>> imap.matches(FilterSpec.query(protocol="imap", remote="10.9.9.9"))
True
>>> imap.matches(FilterSpec.query(protocol="imap", remote="192.0.2.1"))
False
>>> imap.matches(FilterSpec.query(remote="10.9.9.9"))
False
"""

from __future__ import annotations

import fnmatch
import ipaddress
from dataclasses import dataclass
from typing import Union

from maildrift.errors import ConfigError

__all__ = [
    "AUTH_SETTINGS_23",
    "FILTER_TYPES",
    "FilterSpec",
    "Net",
    "is_superset",
    "parse_net",
    "specificity",
]

#: Section types that are filters rather than settings sections.
FILTER_TYPES = ("protocol", "local", "remote", "local_name")

#: The auth module's settings in 2.3.19 (auth-settings.c). doveconf refuses them
#: inside local/remote blocks: "Auth settings not supported inside local/remote blocks".
AUTH_SETTINGS_23 = frozenset(
    [
        f"auth_{name}"
        for name in [
            "mechanisms",
            "realms",
            "default_realm",
            "cache_size",
            "cache_ttl",
            "cache_negative_ttl",
            "cache_verify_password_with_worker",
            "username_chars",
            "username_translation",
            "username_format",
            "master_user_separator",
            "anonymous_username",
            "krb5_keytab",
            "gssapi_hostname",
            "winbind_helper_path",
            "proxy_self",
            "failure_delay",
            "policy_server_url",
            "policy_server_api_header",
            "policy_server_timeout_msecs",
            "policy_hash_mech",
            "policy_hash_nonce",
            "policy_request_attributes",
            "policy_reject_on_fail",
            "policy_check_before_auth",
            "policy_check_after_auth",
            "policy_report_after_auth",
            "policy_log_only",
            "policy_hash_truncate",
            "stats",
            "verbose",
            "debug",
            "debug_passwords",
            "verbose_passwords",
            "ssl_require_client_cert",
            "ssl_username_from_cert",
            "use_winbind",
            "worker_max_count",
        ]
    ]
    + [
        "passdb",
        "userdb",
        "base_dir",
        "verbose_proctitle",
        "first_valid_uid",
        "last_valid_uid",
        "first_valid_gid",
        "last_valid_gid",
        "ssl_client_ca_dir",
        "ssl_client_ca_file",
    ]
)

_IP = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


@dataclass(frozen=True)
class Net:
    """An address and prefix length as written; Dovecot compares filters unmasked."""

    ip: _IP
    bits: int

    def contains(self, ip: _IP) -> bool:
        """``net_is_in_network()``: IPv4-mapped IPv6 counts as IPv4, families never mix."""
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip.version != self.ip.version:
            return False
        network = ipaddress.ip_network(f"{self.ip}/{self.bits}", strict=False)
        return ip in network

    def __str__(self) -> str:
        full = 32 if self.ip.version == 4 else 128
        return str(self.ip) if self.bits == full else f"{self.ip}/{self.bits}"


def parse_net(value: str, file: str | None, line: int | None) -> Net | None:
    """``config_parse_net()`` without DNS: None for a host name, which Dovecot resolves.

    >>> str(parse_net("10.1.2.3/8", "f", 1)), str(parse_net("::1", "f", 1))
    ('10.1.2.3/8', '::1')
    >>> parse_net("mail.example.com", "f", 1) is None
    True
    >>> parse_net("10.0.0.0/33", "f", 4)
    Traceback (most recent call last):
    ...
    maildrift.errors.ConfigError: f:4: Invalid network mask: 33
    """
    address, slash, mask = value.partition("/")
    if address.startswith("[") and address.endswith("]"):
        address = address[1:-1]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    full = 32 if ip.version == 4 else 128
    if not slash:
        return Net(ip, full)
    if not mask.isdigit() or not mask.isascii() or int(mask) > full:
        raise ConfigError(f"Invalid network mask: {mask}", file, line)
    return Net(ip, int(mask))


@dataclass(frozen=True)
class FilterSpec:
    """One combination of filters; equal specs are one scope, as in doveconf."""

    service: str | None = None
    local: Net | None = None
    local_name: str | None = None
    remote: Net | None = None
    # A host name that Dovecot would resolve at parse time; never matched here.
    unresolved: str | None = None

    @property
    def local_bits(self) -> int:
        return self.local.bits if self.local else 0

    @property
    def remote_bits(self) -> int:
        return self.remote.bits if self.remote else 0

    @property
    def is_localremote(self) -> bool:
        return self.local_name is not None or self.local_bits > 0 or self.remote_bits > 0

    @classmethod
    def query(
        cls,
        protocol: str | None = None,
        local: str | None = None,
        remote: str | None = None,
        local_name: str | None = None,
    ) -> FilterSpec:
        """The connection doveconf's ``-f protocol=… -f local=… -f remote=…`` describes."""
        if protocol is None and local is None and remote is None and local_name is None:
            # Most questions are about no connection in particular.
            return _ANY_CONNECTION
        nets = []
        for text in (local, remote):
            net = None if text is None else parse_net(text, None, None)
            if text is not None and net is None:
                raise ValueError(f"not an IP address: {text!r}")
            nets.append(net)
        return cls(service=protocol, local=nets[0], remote=nets[1], local_name=local_name)

    def nest(self, kind: str, value: str, file: str, line: int) -> FilterSpec:
        """This filter narrowed by a nested ``kind value {``; doveconf's fatal nestings raise."""
        spec = dict(self.__dict__)
        if kind == "protocol":
            if self.service is not None:
                _fail("Nested protocol { protocol { .. } } block not allowed", file, line)
            spec["service"] = value
        elif kind == "local_name":
            if self.remote_bits > 0:
                _fail(
                    "remote { local_name { .. } } not allowed (use local_name "
                    "{ remote { .. } } instead)",
                    file,
                    line,
                )
            if self.service is not None:
                _fail(
                    "protocol { local_name { .. } } not allowed (use local_name "
                    "{ protocol { .. } } instead)",
                    file,
                    line,
                )
            spec["local_name"] = value
        else:
            parent_net = self.local if kind == "local" else self.remote
            if kind == "local":
                if self.remote_bits > 0:
                    _fail(
                        "remote { local { .. } } not allowed (use local { remote { .. } } instead)",
                        file,
                        line,
                    )
                if self.service is not None:
                    _fail(
                        "protocol { local { .. } } not allowed (use local { protocol "
                        "{ .. } } instead)",
                        file,
                        line,
                    )
                if self.local_name is not None:
                    _fail(
                        "local_name { local { .. } } not allowed (use local { local_name "
                        "{ .. } } instead)",
                        file,
                        line,
                    )
            elif self.service is not None:
                _fail(
                    "protocol { remote { .. } } not allowed (use remote { protocol "
                    "{ .. } } instead)",
                    file,
                    line,
                )
            net = parse_net(value, file, line)
            if net is None:
                spec["unresolved"] = value
            elif parent_net is not None and (
                parent_net.bits > net.bits
                or (parent_net.bits > 0 and not parent_net.contains(net.ip))
            ):
                _fail(
                    f"{kind} net1 {{ {kind} net2 {{ .. }} }} requires net2 to be inside net1",
                    file,
                    line,
                )
            spec[kind] = net
        return FilterSpec(**spec)

    def matches(self, query: FilterSpec) -> bool:
        """``config_filter_match()``: does this filter (the mask) apply to ``query``?"""
        if self.unresolved is not None:
            return False
        if self.service is not None:
            if query.service is None:
                return False
            if self.service.startswith("!"):
                if query.service == self.service[1:]:
                    return False
            elif query.service != self.service:
                return False
        if self.local_name is not None and (
            query.local_name is None or not _match_local_name(self.local_name, query.local_name)
        ):
            return False
        for mine, theirs in ((self.remote, query.remote), (self.local, query.local)):
            if (
                mine is not None
                and mine.bits != 0
                and (theirs is None or theirs.bits == 0 or not mine.contains(theirs.ip))
            ):
                return False
        return True

    def describe(self) -> str:
        """The filter as doveconf's dump heads it, e.g. ``remote 10.0.0.0/8 protocol imap``."""
        parts = []
        if self.local_bits:
            parts.append(f"local {self.local}")
        if self.local_name is not None:
            parts.append(f"local_name {self.local_name}")
        if self.remote_bits:
            parts.append(f"remote {self.remote}")
        if self.service is not None:
            parts.append(f"protocol {self.service}")
        return " ".join(parts)


_ANY_CONNECTION = FilterSpec()


def specificity(spec: FilterSpec) -> tuple[int, int, int, int]:
    """Sort key of ``config_filter_parser_cmp()``: most specific first (use a stable sort)."""
    return (
        0 if spec.local_name is not None else 1,
        -spec.local_bits,
        -spec.remote_bits,
        0 if spec.service is not None else 1,
    )


def is_superset(sup: FilterSpec, spec: FilterSpec) -> bool:
    """``config_filter_is_superset()``: may ``sup`` fill in settings ``spec`` left unset."""
    if sup.local_bits > spec.local_bits or sup.remote_bits > spec.remote_bits:
        return False
    if sup.local_name is not None and spec.local_name is None:
        return False
    return not (sup.service is not None and spec.service is None)


def _match_local_name(mask: str, name: str) -> bool:
    # Several names may share one block: local_name "a.example b.example" { }.
    return any(
        fnmatch.fnmatchcase(name.lower(), pattern.lower()) for pattern in mask.split(" ") if pattern
    )


def _fail(message: str, file: str, line: int) -> None:
    raise ConfigError(message, file, line)
