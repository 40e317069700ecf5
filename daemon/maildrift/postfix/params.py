"""What Postfix knows about its parameters: types, readers and dynamic name spaces.

The tables are data files shipped in ``maildrift/data`` (see its README for
their sources); this module only indexes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources

__all__ = ["GLOBAL_READER", "ParamTable", "load_param_table"]

#: Readers entry of parameters every Postfix daemon reads (mail_params.c).
GLOBAL_READER = "*"


@dataclass(frozen=True)
class ParamTable:
    """Per-parameter facts plus the name spaces postconf derives from the configuration."""

    types: dict[str, str] = field(default_factory=dict)
    readers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    time_units: dict[str, str] = field(default_factory=dict)
    dbms_suffixes: dict[str, frozenset[str]] = field(default_factory=dict)
    service_suffixes: dict[str, frozenset[str]] = field(default_factory=dict)

    def readers_of(self, name: str) -> tuple[str, ...]:
        """Daemon programs that read ``name``; unknown parameters count as read by all."""
        return self.readers.get(name, (GLOBAL_READER,))

    def is_read_by(self, name: str, command: str) -> bool:
        readers = self.readers_of(name)
        return GLOBAL_READER in readers or command in readers


def _read_json(name: str) -> dict:
    try:
        text = resources.files("maildrift").joinpath("data", name).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    return json.loads(text)


def load_param_table() -> ParamTable:
    """Index the shipped tables (read once by the composition root)."""
    params = _read_json("postfix-params.json")
    spaces = _read_json("postfix-namespaces.json")
    types: dict[str, str] = {}
    readers: dict[str, tuple[str, ...]] = {}
    units: dict[str, str] = {}
    for name, info in params.items():
        if name.startswith("_") or not isinstance(info, dict):
            continue
        if "type" in info:
            types[name] = info["type"]
        if info.get("readers"):
            readers[name] = tuple(info["readers"])
        if info.get("time_unit"):
            units[name] = info["time_unit"]
    return ParamTable(
        types=types,
        readers=readers,
        time_units=units,
        dbms_suffixes={k: frozenset(v) for k, v in spaces.get("dbms", {}).items()},
        service_suffixes={k: frozenset(v) for k, v in spaces.get("service", {}).items()},
    )
