"""The Dovecot configuration model: settings with provenance, merged sections, filter scopes.

Built by :mod:`maildrift.dovecot.builder`; queried by the policy engine. Every
:class:`Setting` knows its file, line span, raw lines and value columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from maildrift.dovecot.filters import FILTER_TYPES, FilterSpec, is_superset, specificity
from maildrift.dovecot.values import dovecot_number
from maildrift.errors import ConfigError

__all__ = [
    "FILE_ROLES",
    "Diagnostic",
    "DovecotConfig",
    "FileEntry",
    "IncludeGlob",
    "Location",
    "Section",
    "Setting",
]

#: The roles a file can have in :attr:`DovecotConfig.files`.
FILE_ROLES = ("main", "include", "include_try-missing", "value-file")


@dataclass(frozen=True)
class Location:
    """A file and a 1-based line in it."""

    file: str
    line: int


@dataclass(frozen=True)
class FileEntry:
    """One file the configuration consists of or refers to."""

    path: str
    read_path: str
    role: str


@dataclass(frozen=True)
class IncludeGlob:
    """An ``!include``/``!include_try`` directive: the watcher re-globs ``pattern``.

    ``pattern`` is resolved against the including file's directory, as Dovecot
    does; ``written`` is the text on the line.
    """

    pattern: str
    written: str
    file: str
    line: int
    optional: bool
    matches: tuple[str, ...] = ()


@dataclass(frozen=True)
class Diagnostic:
    """A warning doveconf would print (or that maildrift adds), with where it applies."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line}: {self.message}"
            if self.line
            else f"{self.file}: {self.message}"
        )


@dataclass(frozen=True)
class Setting:
    """One assignment: the value Dovecot takes from it, and where it is written.

    ``value`` is what doveconf prints (unquoted, ``$KEY`` self-reference expanded,
    ``<file`` kept as ``<path``). ``written`` is the value text as it appears on
    its line. ``value_start``/``value_end`` are the columns of ``written`` in
    ``raw_lines[0]`` when the setting is on one line, else None. ``order`` is
    the parse order across all files.
    """

    name: str
    value: str
    file: str
    line: int
    end_line: int
    kind: str
    written: str
    raw_lines: tuple[str, ...]
    value_start: int | None
    value_end: int | None
    order: int

    @property
    def location(self) -> Location:
        return Location(self.file, self.line)

    def numeric(self) -> int | None:
        """The number Dovecot reads from the value (``660`` decimal, ``0660`` octal)."""
        return dovecot_number(self.value)


@dataclass(eq=False)
class Section:
    """A section after merging: every place that defines it, its settings, its children.

    Filter scopes (``protocol``, ``local``, ``remote``, ``local_name``) carry
    their combined :class:`FilterSpec` in ``filter``.
    """

    type: str
    name: str | None
    defined_at: list[Location] = field(default_factory=list)
    ends_at: list[Location] = field(default_factory=list)
    settings: dict[str, Setting] = field(default_factory=dict)
    history: list[Setting] = field(default_factory=list)
    children: list[Section] = field(default_factory=list)
    filter: FilterSpec | None = None

    @property
    def is_filter(self) -> bool:
        return self.type in FILTER_TYPES

    def get(self, name: str) -> Setting | None:
        """The winning (last) assignment of ``name`` in this section."""
        return self.settings.get(name)

    def value(self, name: str) -> str | None:
        setting = self.settings.get(name)
        return None if setting is None else setting.value

    def shadowed(self, name: str) -> list[Setting]:
        """Earlier assignments of ``name`` here that the winning one overrides."""
        winner = self.settings.get(name)
        return [s for s in self.history if s.name == name and s is not winner]

    def find(self, type: str | None = None, name: str | None = None) -> list[Section]:
        """Child sections of ``type`` (any if None) named ``name`` (any if None)."""
        return [
            child
            for child in self.children
            if (type is None or child.type == type) and (name is None or child.name == name)
        ]

    def find_one(self, type: str, name: str | None = None) -> Section | None:
        found = self.find(type, name)
        return found[0] if found else None

    def walk(self) -> Iterator[Section]:
        """This section and every section below it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(eq=False)
class DovecotConfig:
    """A loaded dovecot.conf with everything it includes."""

    config_file: str
    version: str
    root: Section
    files: list[FileEntry] = field(default_factory=list)
    include_globs: list[IncludeGlob] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    # The root, then each filter scope in the order doveconf created its parser.
    scopes: list[Section] = field(default_factory=list)
    _resolved: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def settings(self) -> dict[str, Setting]:
        """Global settings (outside any section)."""
        return self.root.settings

    def get(self, name: str) -> Setting | None:
        return self.root.settings.get(name)

    def sections(self, type: str | None = None, name: str | None = None) -> list[Section]:
        """Top-level sections, e.g. ``sections("service", "auth")``."""
        return self.root.find(type, name)

    def section(self, *path: tuple[str, str | None]) -> Section | None:
        """Follow ``(type, name)`` pairs from the top, e.g.
        ``section(("service", "auth"), ("unix_listener", "/var/spool/postfix/private/auth"))``."""
        current: Section | None = self.root
        for type_, name in path:
            current = current.find_one(type_, name) if current else None
        return current

    def effective(
        self,
        name: str,
        protocol: str | None = None,
        local: str | None = None,
        remote: str | None = None,
        local_name: str | None = None,
    ) -> Setting | None:
        """The assignment that decides ``name`` for a connection, or None (the default applies).

        Same answer as ``doveconf -f protocol=… -f local=… -f remote=… -f lname=… -h NAME``:
        the matching filters are ordered most specific first and the first that
        sets the name wins. Like doveconf, raises ConfigError when two matching
        filters, neither of which contains the other, set one name -- for any name,
        since Dovecot then has no configuration at all for that connection.
        """
        return self.effective_settings(protocol, local, remote, local_name).get(name)

    def effective_settings(
        self,
        protocol: str | None = None,
        local: str | None = None,
        remote: str | None = None,
        local_name: str | None = None,
    ) -> dict[str, Setting]:
        """Every name set for a connection, with the assignment that decides it."""
        return self._resolve_all(FilterSpec.query(protocol, local, remote, local_name))

    def effective_value(self, name: str, **context: str | None) -> str | None:
        setting = self.effective(name, **context)
        return None if setting is None else setting.value

    def scope_settings(self, scope: Section) -> dict[str, Setting]:
        """The names a scope sets; in 2.4 ``ssl_server { cert_file }`` also counts
        as ``ssl_server_cert_file``."""
        if self.version != "2.4":
            return scope.settings
        merged = dict(scope.settings)
        for child in scope.children:
            if child.is_filter or child.name is not None:
                continue
            prefix = child.type + "_"
            for key, setting in child.settings.items():
                flat = key if key.startswith(prefix) else prefix + key
                if flat not in merged or merged[flat].order < setting.order:
                    merged[flat] = setting
        return merged

    def check_conflicts(self) -> None:
        """What doveconf checks after parsing: each filter's own view must be conflict-free."""
        for scope in self.scopes:
            self._resolve_all(scope.filter or FilterSpec())

    def _resolve_all(self, query: FilterSpec) -> dict[str, Setting]:
        # Rules ask the same few contexts again and again; the model does not change.
        cached = self._resolved.get(query)
        if cached is not None:
            return cached
        matching = self._matching(query)
        names: set[str] = set()
        for scope in matching:
            names.update(self.scope_settings(scope))
        found = {}
        for name in sorted(names):
            setting = self._resolve(name, matching)
            if setting is not None:
                found[name] = setting
        self._resolved[query] = found
        return found

    def _matching(self, query: FilterSpec) -> list[Section]:
        found = [s for s in self.scopes if (s.filter or FilterSpec()).matches(query)]
        return sorted(found, key=lambda s: specificity(s.filter or FilterSpec()))

    def _resolve(self, name: str, matching: list[Section]) -> Setting | None:
        result: Setting | None = None
        previous: FilterSpec | None = None
        for scope in matching:
            spec = scope.filter or FilterSpec()
            setting = self.scope_settings(scope).get(name)
            superset = previous is None or is_superset(spec, previous)
            previous = spec
            if setting is None:
                continue
            if result is None:
                result = setting
            elif not superset:
                where = scope.defined_at[0] if scope.defined_at else Location(self.config_file, 0)
                raise ConfigError(
                    f"Conflict in setting {name} found from filter at {where.file}:{where.line}",
                    setting.file,
                    setting.line,
                )
        return result
