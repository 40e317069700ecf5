"""Facts about the host being judged, which Postfix computes its own defaults from.

On the live host they are read once from this machine (``gethostname`` and the
interface addresses).  Under ``--root`` they come only from a ``--host-facts``
file, so a tree copied from another host is never judged with this machine's
name or networks.

Sample input (``--host-facts`` file, YAML or JSON)::

    hostname: mx1
    addresses: [127.0.0.1/8, "::1/128", 192.0.2.10/24]
    mydomain: example.com      # optional explicit values of host-computed names
"""

from __future__ import annotations

import json
import socket
import subprocess
from dataclasses import dataclass, field

import yaml

from maildrift.errors import ConfigError
from maildrift.filestore import TreeReader
from maildrift.textdecode import decode_config

__all__ = ["HostFacts", "local_host_facts", "parse_host_facts", "unknown_host_facts"]

_VALUE_NAMES = ("myhostname", "mydomain", "mynetworks", "inet_interfaces")


@dataclass(frozen=True)
class HostFacts:
    """``hostname`` and ``addresses`` (``ADDR/PREFIX``); None means unknown."""

    source: str
    hostname: str | None = None
    addresses: tuple[str, ...] | None = None
    values: dict[str, str] = field(default_factory=dict)


def unknown_host_facts() -> HostFacts:
    return HostFacts(source="unknown (--root without --host-facts)")


def parse_host_facts(text: str, path: str) -> HostFacts:
    """Parse a host-facts file.

    >>> f = parse_host_facts('{"hostname": "mx1", "addresses": ["192.0.2.1/24"]}', "f.json")
    >>> f.hostname, f.addresses
    ('mx1', ('192.0.2.1/24',))
    >>> parse_host_facts("hostname: [1]", "f.yaml")
    Traceback (most recent call last):
    ...
    maildrift.errors.ConfigError: f.yaml: hostname must be a string
    """
    try:
        data = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise ConfigError(
            f"cannot parse host facts: {exc}", path, None if line is None else line + 1
        ) from None
    if not isinstance(data, dict):
        raise ConfigError("host facts must be a mapping", path)
    allowed = {"hostname", "addresses", *_VALUE_NAMES}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"unknown host-facts keys: {', '.join(unknown)}", path)
    hostname = data.get("hostname")
    if hostname is not None and not isinstance(hostname, str):
        raise ConfigError("hostname must be a string", path)
    addresses = data.get("addresses")
    if addresses is not None:
        if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
            raise ConfigError("addresses must be a list of ADDR/PREFIX strings", path)
        addresses = tuple(addresses)
    values = {}
    for name in _VALUE_NAMES:
        if name in data:
            if not isinstance(data[name], str):
                raise ConfigError(f"{name} must be a string", path)
            values[name] = data[name]
    return HostFacts(source=path, hostname=hostname, addresses=addresses, values=values)


def read_host_facts(path: str) -> HostFacts:
    data = TreeReader().read(path)
    return parse_host_facts(decode_config(data.data, path), path)


def local_host_facts() -> HostFacts:
    """This machine's name and interface addresses, as Postfix would see them."""
    addresses: tuple[str, ...] | None
    try:
        proc = subprocess.run(
            ["ip", "-o", "addr", "show"], capture_output=True, text=True, timeout=10, check=True
        )
        found = [line.split()[3] for line in proc.stdout.splitlines() if len(line.split()) > 3]
        v4 = [a for a in found if ":" not in a]
        v6 = [a for a in found if ":" in a]
        addresses = tuple(v4 + v6)
    except (OSError, subprocess.SubprocessError):
        addresses = None
    return HostFacts(source="this host", hostname=socket.gethostname(), addresses=addresses)
