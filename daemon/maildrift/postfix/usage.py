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


def _service_names(config) -> frozenset[str]:
    cached = config._cache.get("usage-service-names")
    if cached is None:
        cached = config._cache["usage-service-names"] = frozenset(_compute_service_names(config))
    return cached


def _is_service_name(config, name: str) -> bool:
    """Whether ``name`` is ``SERVICE_SUFFIX`` of a master.cf service whose command reads it."""
    # Cheaper than building every SERVICE_SUFFIX name: only a few names are asked about.
    suffixes = config.params.service_suffixes
    for service in config.master.services:
        prefix = service.service + "_"
        if name.startswith(prefix) and name[len(prefix) :] in suffixes.get(service.command, ()):
            return True
    return False


def _compute_service_names(config) -> set[str]:
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


def _default_referenced_unless_set(config) -> set[str]:
    """Names referenced by the defaults of every parameter main.cf leaves alone."""
    by_default = _default_references(config)
    counts = getattr(config.defaults, "_reference_counts", None)
    if counts is None:
        counts = {}
        for names in by_default.values():
            for name in names:
                counts[name] = counts.get(name, 0) + 1
        object.__setattr__(config.defaults, "_reference_counts", counts)
    # Walking main.cf's few names beats walking hundreds of defaults per model.
    dropped: dict[str, int] = {}
    for name in config.main.effective():
        for ref in by_default.get(name, ()):
            dropped[ref] = dropped.get(ref, 0) + 1
    return {name for name, count in counts.items() if count > dropped.get(name, 0)}


def _references(config) -> tuple[set[str], set[str]]:
    """Names referenced by ``$name`` and names of lookup-table parameters."""
    cached = config._cache.get("usage-references")
    if cached is None:
        cached = _compute_references(config)
        config._cache["usage-references"] = cached
    return cached


def _main_references(config) -> frozenset[str]:
    """``$name`` references written in main.cf's own values."""
    cached = config._cache.get("usage-main-references")
    if cached is None:
        types = config.params.types
        referenced: set[str] = set()
        for assignment in config.main.assignments:
            # postconf does not scan "raw" parameters, whose $ text is not expanded.
            if "$" in assignment.value_raw and types.get(assignment.name) != "raw":
                referenced |= referenced_names(assignment.value_raw)
        cached = config._cache["usage-main-references"] = frozenset(referenced)
    return cached


def _compute_references(config) -> tuple[set[str], set[str]]:
    referenced: set[str] = set(_main_references(config))
    tables: set[str] = set()
    suffixes = config.params.dbms_suffixes
    types = config.params.types
    for assignment in config.main.assignments:
        if ":" in assignment.value_raw:
            tables |= _dbms_names(assignment.value_raw, suffixes)
    referenced |= _default_referenced_unless_set(config)
    for service in config.master.services:
        for override in service.overrides:
            if ":" in override.value_raw:
                tables |= _dbms_names(override.value_raw, suffixes)
            if "$" in override.value_raw and types.get(override.name) != "raw":
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


def _builtin(config) -> frozenset[str]:
    defaults = config.defaults
    cached = getattr(defaults, "_builtin_cache", None)
    if cached is None:
        cached = frozenset(defaults.raw) | _COMPUTED
        object.__setattr__(defaults, "_builtin_cache", cached)
    return cached


def known_names(config) -> set[str]:
    return set(_memo(config, "usage-known", _known_names))


def _known_names(config) -> frozenset[str]:
    referenced, tables = _references(config)
    return _builtin(config) | _service_names(config) | tables | referenced


def _is_known(config, name: str) -> bool:
    # Membership in each part: the union of ~1000 built-in names per model costs more.
    if name in _builtin(config):
        return True
    referenced, tables = _references(config)
    return name in referenced or name in tables or _is_service_name(config, name)


def _memo(config, key: str, compute):
    # Every answer here reads all of main.cf and master.cf: a rule asking
    # depends on all of them (engine.incremental).
    if config.reads is not None:
        config.reads.add("*")
    # The model is immutable once built: the answer holds for its lifetime.
    cached = config._cache.get(key)
    if cached is None:
        cached = config._cache[key] = compute(config)
    return cached


def unused_main_names(config) -> list[Diagnostic]:
    """postconf's "unused parameter" warnings for main.cf, in file order."""
    return list(_memo(config, "usage-unused-main", _unused_main_names))


def unused_override_names(config) -> list[tuple[str, str, Diagnostic]]:
    """(service key, name, warning) for each ``-o`` name Postfix does not know."""
    return list(_memo(config, "usage-unused-overrides", _unused_override_names))


def _unused_main_names(config) -> tuple[Diagnostic, ...]:
    warnings = []
    for name, assignment in config.main.effective().items():
        if not _is_known(config, name):
            warnings.append(
                Diagnostic(
                    config.main.file, None, f"unused parameter: {name}={assignment.value_raw}"
                )
            )
    return tuple(warnings)


def _unused_override_names(config) -> tuple[tuple[str, str, Diagnostic], ...]:
    builtin = _builtin(config)
    if all(o.name in builtin for s in config.master.services for o in s.overrides):
        # The usual master.cf: every -o name is built in, no scan needed.
        return ()
    _, tables = _references(config)
    known = set(tables)
    classes = config.main.get("smtpd_restriction_classes")
    if classes is not None:
        known |= {n for n in _LIST_SPLIT.split(config.expanded("smtpd_restriction_classes").text)}
    found = []
    main_refs = _main_references(config)
    for service in config.master.services:
        local = set()
        for override in service.overrides:
            if _scannable(config, override.name) and "$" in override.value_raw:
                local |= referenced_names(override.value_raw)
        for override in service.overrides:
            name = override.name
            if not (
                name in builtin
                or name in known
                or name in local
                or name in main_refs
                or _is_service_name(config, name)
            ):
                message = f"unused parameter: {override.name}={override.value_raw}"
                found.append(
                    (
                        service.key,
                        override.name,
                        Diagnostic(config.master.file, override.line, message),
                    )
                )
    return tuple(found)
