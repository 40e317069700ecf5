"""Running the real doveconf and bringing its output and the model into one comparable form."""

from __future__ import annotations

import ipaddress
import itertools
import subprocess

from maildrift.dovecot.lexer import unescape
from maildrift.dovecot.model import DovecotConfig, Section
from maildrift.dovecot.values import needs_quotes

__all__ = [
    "contexts_for",
    "doveconf_defaults",
    "doveconf_flat",
    "doveconf_value",
    "flatten_doveconf",
    "flatten_model",
    "run_doveconf",
]

_FILTERS = ("local", "local_name", "remote", "protocol")
_LISTS = ("passdb", "userdb")


def run_doveconf(binary: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60, check=False)


def doveconf_defaults(binary: str, empty_conf: str) -> dict[str, str]:
    """Top-level defaults from ``doveconf -d``, for ``$KEY`` self-references."""
    out = run_doveconf(binary, "-c", empty_conf, "-d")
    assert out.returncode == 0, out.stderr
    defaults = {}
    for line in out.stdout.splitlines():
        if line and not line[0].isspace() and " = " in line and not line.startswith("#"):
            key, _, value = line.partition(" = ")
            defaults[key] = _unquote(value)
    return defaults


def doveconf_value(binary: str, conf: str, name: str, context: dict) -> tuple[int, str]:
    """``doveconf -c FILE -f k=v … -h NAME``: exit code and the value (or stderr)."""
    args = ["-c", conf]
    for key, value in context.items():
        if value is not None:
            # doveconf calls the local_name filter "lname".
            args += ["-f", f"{'lname' if key == 'local_name' else key}={value}"]
    out = run_doveconf(binary, *args, "-h", name)
    if out.returncode != 0:
        return out.returncode, out.stderr
    return 0, out.stdout[:-1] if out.stdout.endswith("\n") else out.stdout


def _unquote(value: str) -> str:
    # doveconf quotes (and escapes) only values that need it; anything else is verbatim.
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        inner = unescape(value[1:-1])
        if needs_quotes(inner):
            return inner
    return value


def flatten_doveconf(text: str) -> dict[tuple[str, ...], str]:
    """``doveconf -N -P`` output as {(section segments…, name): value}."""
    flat: dict[tuple[str, ...], str] = {}
    stack: list[tuple[str, dict]] = []  # (segment, counters of unnamed children)
    filters: list[list[str]] = []
    top_counters: dict[str, int] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped == "}":
            stack.pop()
            filters.pop()
            continue
        if stripped.endswith("{"):
            head = stripped[:-1].strip()
            kind, _, name = head.partition(" ")
            parent_filter = filters[-1] if filters else []
            counters = stack[-1][1] if stack else top_counters
            if kind in _FILTERS:
                chain = [*parent_filter, f"{kind} {name}"]
                segment = "filter:" + " ".join(_order_filter(chain))
                filters.append(chain)
            else:
                filters.append(parent_filter)
                if kind in _LISTS or not name:
                    index = counters.get(kind, 0)
                    counters[kind] = index + 1
                    segment = f"{kind}#{index}"
                else:
                    segment = f"{kind} {_section_name(name)}"
            stack.append((segment, {}))
            continue
        key, _, value = stripped.partition(" = ")
        if key.endswith(" ="):
            key, value = key[:-2], ""
        path = _path(stack)
        flat[(*path, key)] = _unquote(value)
    return flat


def _section_name(name: str) -> str:
    # doveconf quotes a section name that contains a space.
    if len(name) >= 2 and name[0] == '"' and name[-1] == '"':
        return unescape(name[1:-1])
    return name


def _path(stack: list[tuple[str, dict]]) -> tuple[str, ...]:
    # A filter inside a filter appears once, as its combined form.
    path: list[str] = []
    for segment, _ in stack:
        if segment.startswith("filter:") and path and path[-1].startswith("filter:"):
            path[-1] = segment
        else:
            path.append(segment)
    return tuple(path)


def _order_filter(chain: list[str]) -> list[str]:
    return sorted(chain, key=lambda part: _FILTERS.index(part.split(" ", 1)[0]))


def flatten_model(model: DovecotConfig) -> dict[tuple[str, ...], str]:
    """The model in the same form; filter scopes by their combined filter."""
    flat: dict[tuple[str, ...], str] = {}
    _flatten_section(model.root, (), flat)
    return flat


def _flatten_section(section: Section, path: tuple[str, ...], flat: dict) -> None:
    for name, setting in section.settings.items():
        flat[(*path, name)] = setting.value
    counters: dict[str, int] = {}
    for child in section.children:
        if child.filter is not None:
            described = child.filter.describe()
            base = path[:-1] if path and path[-1].startswith("filter:") else path
            child_path = (*base, f"filter:{described}")
        elif child.type in _LISTS or child.name is None:
            index = counters.get(child.type, 0)
            counters[child.type] = index + 1
            child_path = (*path, f"{child.type}#{index}")
            if child.type in _LISTS:
                flat[(*child_path, "name")] = child.name or ""
        else:
            child_path = (*path, f"{child.type} {child.name}")
        _flatten_section(child, child_path, flat)


def doveconf_flat(binary: str, conf: str) -> dict[tuple[str, ...], str]:
    out = run_doveconf(binary, "-c", conf, "-N", "-P")
    assert out.returncode == 0, out.stderr
    return flatten_doveconf(out.stdout)


def _inside(net_text: str) -> str:
    network = ipaddress.ip_network(net_text, strict=False)
    return str(network[1]) if network.num_addresses > 1 else str(network.network_address)


def contexts_for(model: DovecotConfig) -> list[dict]:
    """Connections worth asking about: every filter's protocol and an address in every net."""
    protocols: set[str | None] = {None, "imap", "pop3"}
    locals_: set[str | None] = {None}
    remotes: set[str | None] = {None, "203.0.113.7"}
    for scope in model.scopes[1:]:
        spec = scope.filter
        if spec is None:
            continue
        if spec.service is not None:
            protocols.add(spec.service.lstrip("!"))
        if spec.local is not None:
            locals_.add(_inside(f"{spec.local.ip}/{spec.local.bits}"))
        if spec.remote is not None:
            remotes.add(_inside(f"{spec.remote.ip}/{spec.remote.bits}"))
    return [
        {"protocol": p, "local": lo, "remote": r}
        for p, lo, r in itertools.product(
            sorted(protocols, key=str), sorted(locals_, key=str), sorted(remotes, key=str)
        )
    ]
