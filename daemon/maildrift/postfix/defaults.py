"""Postfix built-in defaults as raw expressions, from ``postconf -d`` or a shipped table.

Sample input (``postconf -d`` output)::

    anvil_rate_time_unit = 60s
    mynetworks_style = ${{$compatibility_level} <level {2} ? {subnet} : {host}}

>>> d = parse_postconf_d("anvil_rate_time_unit = 60s\\nempty_one =\\n", "test")
>>> d.raw["anvil_rate_time_unit"], d.raw["empty_one"]
('60s', '')
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources

from maildrift.errors import ConfigError

__all__ = [
    "HOST_COMPUTED",
    "SHIPPED_VERSIONS",
    "Defaults",
    "local_defaults",
    "parse_postconf_d",
    "shipped_defaults",
]

#: Versions with a shipped ``postconf -d`` table: RHEL 9, Debian 12, RHEL 10.
SHIPPED_VERSIONS = ("3.5", "3.7", "3.8")

#: Defaults Postfix computes from the host it runs on, never from a table.
HOST_COMPUTED = ("myhostname", "mydomain", "mynetworks", "inet_interfaces")


@dataclass(frozen=True)
class Defaults:
    """Raw default expressions of one Postfix version, and where they came from."""

    version: str
    source: str
    raw: dict[str, str]

    def names(self) -> frozenset[str]:
        return frozenset(self.raw)


def parse_postconf_d(text: str, source: str, version: str = "") -> Defaults:
    """Parse ``postconf -d`` output (one ``name = value`` per line)."""
    raw: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, value = line.partition(" =")
        if not sep or not name or " " in name:
            raise ConfigError("not a postconf -d line", source, number)
        raw[name] = value[1:] if value.startswith(" ") else value
    if not version:
        version = ".".join(raw.get("mail_version", "").split(".")[:2])
    return Defaults(version=version, source=source, raw=raw)


def shipped_defaults(version: str) -> Defaults:
    """The table shipped for ``version`` (3.5, 3.7 or 3.8)."""
    if version not in SHIPPED_VERSIONS:
        raise ConfigError(
            f"no shipped defaults for Postfix {version}; have {', '.join(SHIPPED_VERSIONS)}"
        )
    name = f"postconf-d-{version}.txt"
    text = resources.files("maildrift").joinpath("data", name).read_text(encoding="utf-8")
    return parse_postconf_d(text, f"shipped table {name}", version)


def local_defaults(postconf: str = "postconf") -> Defaults | None:
    """``postconf -d`` of the installed Postfix, or None where there is none.

    Run against an empty configuration directory so that neither this host's
    main.cf nor its master.cf services leak into the built-in table.
    """
    with tempfile.TemporaryDirectory(prefix="maildrift-postconf-") as empty:
        for name in ("main.cf", "master.cf"):
            path = os.path.join(empty, name)
            with open(path, "w"):
                pass
            # Postfix pauses on a main.cf written within the last seconds.
            os.utime(path, (0, 0))
        try:
            proc = subprocess.run(
                [postconf, "-c", empty, "-d"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
                env={"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin")},
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
    if proc.returncode != 0:
        return None
    defaults = parse_postconf_d(proc.stdout, f"{postconf} -d")
    return Defaults(
        defaults.version, f"postconf -d (Postfix {defaults.raw.get('mail_version')})", defaults.raw
    )
