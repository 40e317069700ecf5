"""Which explicit parameter names Postfix knows: postconf's "unused parameter" logic.

A name is known when it is built in, a per-service name of a delivery
transport in master.cf (``relay_destination_concurrency_limit``), a legacy
lookup-table name (``foo_server_host`` for ``ldap:foo``), a member of
``smtpd_restriction_classes``, or referenced as ``$name`` from another value.
Everything else only gets postconf's warning, and Postfix silently ignores it.
"""

from __future__ import annotations

import re

from maildrift.postfix.expand import referenced_names
from maildrift.postfix.maincf import Diagnostic

__all__ = ["unused_main_names", "unused_override_names"]

_TABLE_REF = re.compile(r"(?:^|[\s,{}():])(ldap|mysql|pgsql|sqlite|memcache):([^\s,{}():]+)")
_LIST_SPLIT = re.compile(r"[\s,]+")


def _dbms_names(value: str, suffixes: dict[str, frozenset[str]]) -> set[str]:
    names = set()
    for kind, table in _TABLE_REF.findall(value):
        if "/" not in table:
            names.update(f"{table}_{suffix}" for suffix in suffixes.get(kind, ()))
    return names


def _service_names(config) -> set[str]:
    names = set()
    for service in config.master.services:
        for suffix in config.params.service_suffixes.get(service.command, ()):
            names.add(f"{service.service}_{suffix}")
    return names


def _scannable(config, name: str) -> bool:
    # postconf does not scan "raw" parameters, whose $ text is not expanded.
    return config.params.types.get(name) != "raw"


def _default_references(config) -> dict[str, frozenset[str]]:
    """``$name`` references of every default value, computed once per defaults table."""
    defaults = config.defaults
    cached = getattr(defaults, "_references_cache", None)
    if cached is None:
        cached = {
            name: frozenset(referenced_names(raw))
            for name, raw in defaults.raw.items()
            if _scannable(config, name) and "$" in raw
        }
        object.__setattr__(defaults, "_references_cache", cached)
    return cached


def _references(config) -> tuple[set[str], set[str]]:
    """Names referenced by ``$name`` and names of lookup-table parameters."""
    cached = config._cache.get("usage-references")
    if cached is None:
        cached = _compute_references(config)
        config._cache["usage-references"] = cached
    return cached


def _compute_references(config) -> tuple[set[str], set[str]]:
    referenced: set[str] = set()
    tables: set[str] = set()
    suffixes = config.params.dbms_suffixes
    for assignment in config.main.assignments:
        tables |= _dbms_names(assignment.value_raw, suffixes)
        if _scannable(config, assignment.name) and "$" in assignment.value_raw:
            referenced |= referenced_names(assignment.value_raw)
    for name, names in _default_references(config).items():
        if config.main.get(name) is None:
            referenced |= names
    for service in config.master.services:
        for override in service.overrides:
            tables |= _dbms_names(override.value_raw, suffixes)
            if _scannable(config, override.name):
                referenced |= referenced_names(override.value_raw)
    classes = config.main.get("smtpd_restriction_classes")
    if classes is not None:
        text = config.expanded("smtpd_restriction_classes").text
        referenced |= {n for n in _LIST_SPLIT.split(text) if n}
    return referenced, tables


#: Built in everywhere, though left out of the shipped tables (host or process facts).
_COMPUTED = frozenset(
    {"myhostname", "mydomain", "mynetworks", "process_id", "process_name", "service_name"}
)


def _builtin(config) -> set[str]:
    return set(config.defaults.raw) | _COMPUTED


def known_names(config) -> set[str]:
    referenced, tables = _references(config)
    return _builtin(config) | _service_names(config) | tables | referenced


def unused_main_names(config) -> list[Diagnostic]:
    """postconf's "unused parameter" warnings for main.cf, in file order."""
    known = known_names(config)
    warnings = []
    for name, assignment in config.main.effective().items():
        if name not in known:
            warnings.append(
                Diagnostic(
                    config.main.file, None, f"unused parameter: {name}={assignment.value_raw}"
                )
            )
    return warnings


def unused_override_names(config) -> list[tuple[str, str, Diagnostic]]:
    """(service key, name, warning) for each ``-o`` name Postfix does not know."""
    known = _builtin(config) | _service_names(config)
    _, tables = _references(config)
    known |= tables
    classes = config.main.get("smtpd_restriction_classes")
    if classes is not None:
        known |= {n for n in _LIST_SPLIT.split(config.expanded("smtpd_restriction_classes").text)}
    found = []
    main_refs: set[str] = set()
    for assignment in config.main.assignments:
        if _scannable(config, assignment.name) and "$" in assignment.value_raw:
            main_refs |= referenced_names(assignment.value_raw)
    for service in config.master.services:
        local = set()
        for override in service.overrides:
            if _scannable(config, override.name) and "$" in override.value_raw:
                local |= referenced_names(override.value_raw)
        for override in service.overrides:
            if override.name not in known | local | main_refs:
                message = f"unused parameter: {override.name}={override.value_raw}"
                found.append(
                    (
                        service.key,
                        override.name,
                        Diagnostic(config.master.file, override.line, message),
                    )
                )
    return found
