"""Statements into the merged model, as Dovecot's config parser merges them. Pure: no I/O.

Named sections merge (``service auth`` written in two files is one section
that remembers both places); unnamed ``passdb``/``userdb``/listener sections
are list items; ``plugin`` and ``dict`` blocks merge; filters merge by their
combined filter. ``$KEY`` in the value of KEY expands to KEY's value at that
point (2.4: ``$SET:KEY``); every other ``$name`` stays as written.

Sample input::

    mail_plugins = quota
    protocol imap {
      mail_plugins = $mail_plugins imap_quota
    }
    service auth {
      unix_listener /var/spool/postfix/private/auth {
        mode = 660
      }
    }

>>> cfg = parse_dovecot(
...     "mail_plugins = quota\\nprotocol imap {\\n  mail_plugins = $mail_plugins imap_quota\\n}\\n"
...     "service auth {\\n  unix_listener /var/spool/postfix/private/auth {\\n"
...     "    mode = 660\\n  }\\n}\\n", "/etc/dovecot/dovecot.conf")
>>> cfg.effective_value("mail_plugins", protocol="imap"), cfg.effective_value("mail_plugins")
('quota imap_quota', 'quota')
>>> path = "/var/spool/postfix/private/auth"
>>> listener = cfg.section(("service", "auth"), ("unix_listener", path))
>>> listener.get("mode").value, oct(listener.get("mode").numeric())
('660', '0o1224')
>>> parse_dovecot("service auth {\\n", "d.conf")
Traceback (most recent call last):
...
maildrift.errors.ConfigError: d.conf:1: Missing '}' (section started at d.conf:1)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Callable

from maildrift.dovecot.filters import AUTH_SETTINGS_23, FILTER_TYPES, FilterSpec
from maildrift.dovecot.lexer import Statement, detect_version, lex_dovecot
from maildrift.dovecot.model import (
    Diagnostic,
    DovecotConfig,
    FileEntry,
    IncludeGlob,
    Location,
    Section,
    Setting,
)
from maildrift.errors import ConfigError

__all__ = ["ConfigBuilder", "parse_dovecot", "resolve_relative", "section_escape"]

# 2.3 string lists: every unnamed block adds to the same list.
_STRLISTS_23 = frozenset(["plugin", "dict"])
# 2.3 SET_DEFLIST (not _UNIQUE): a second block with the same name is fatal.
_NONUNIQUE_LISTS_23 = frozenset(["passdb", "userdb"])


def resolve_relative(path: str, including_file: str) -> str:
    """``fix_relative_path()``: relative to the including file's directory.

    >>> resolve_relative("conf.d/*.conf", "/etc/dovecot/dovecot.conf")
    '/etc/dovecot/conf.d/*.conf'
    >>> resolve_relative("/x.conf", "/etc/dovecot/dovecot.conf"), resolve_relative("a", "b")
    ('/x.conf', 'a')
    """
    if path.startswith("/") or "/" not in including_file:
        return path
    return including_file[: including_file.rindex("/") + 1] + path


def section_escape(name: str) -> str:
    """``settings_section_escape()``, for messages that quote Dovecot's internal key."""
    table = {"=": "\\e", "/": "\\s", "\\": "\\\\", " ": "\\_", ",": "\\+"}
    return "".join(table.get(c, c) for c in name)


class ConfigBuilder:
    """Feeds statements, in Dovecot's reading order, into a :class:`DovecotConfig`."""

    def __init__(
        self,
        config_file: str,
        version: str = "2.3",
        defaults: Mapping[str, str] | None = None,
    ):
        self.config_file = config_file
        self.version = version
        self.defaults = dict(defaults or {})
        self.root = Section("", None, filter=FilterSpec())
        self.stack: list[Section] = [self.root]
        self.scopes: list[Section] = [self.root]
        self._filters: dict[FilterSpec, Section] = {FilterSpec(): self.root}
        self.files: list[FileEntry] = []
        self.include_globs: list[IncludeGlob] = []
        self.warnings: list[Diagnostic] = []
        self.value_files: list[tuple[str, Location]] = []
        self._order = 0
        self._first_setting_seen = False
        self._seen_in_filter: dict[str, Location] = {}

    def add(self, stmt: Statement) -> None:
        """Apply one assign/begin/end statement (includes are the loader's job)."""
        for message in stmt.warnings:
            self.warn(stmt.file, stmt.line, message)
        if stmt.kind == "assign":
            self._assign(stmt)
        elif stmt.kind == "begin":
            self._begin(stmt)
        elif stmt.kind == "end":
            if len(self.stack) == 1:
                raise ConfigError("Unexpected '}'", stmt.file, stmt.line)
            self.stack.pop().ends_at.append(Location(stmt.file, stmt.line))
        else:
            raise ConfigError(f"{stmt.key} needs the loader", stmt.file, stmt.line)

    def warn(self, file: str, line: int | None, message: str) -> None:
        self.warnings.append(Diagnostic(file, line, message))

    def finish(self, host_path: Callable[[str], str] | None = None) -> DovecotConfig:
        """Check what doveconf checks at the end and return the model."""
        if len(self.stack) > 1:
            where = self.stack[-1].defined_at[-1]
            raise ConfigError(
                f"Missing '}}' (section started at {where.file}:{where.line})",
                where.file,
                where.line,
            )
        files = list(self.files)
        known = {entry.path for entry in files}
        for path, _where in self.value_files:
            if path not in known:
                known.add(path)
                files.append(FileEntry(path, host_path(path) if host_path else path, "value-file"))
        config = DovecotConfig(
            config_file=self.config_file,
            version=self.version,
            root=self.root,
            files=files,
            include_globs=list(self.include_globs),
            warnings=list(self.warnings),
            scopes=list(self.scopes),
        )
        config.check_conflicts()
        return config

    # -- statements ---------------------------------------------------------

    def _assign(self, stmt: Statement) -> None:
        key = stmt.key
        if not self._first_setting_seen:
            self._first_setting_seen = True
        elif key == "dovecot_config_version" and self.version == "2.3":
            raise ConfigError(
                "The first setting must be dovecot_config_version", stmt.file, stmt.line
            )
        section = self.stack[-1]
        self._check_auth_in_localremote(key, stmt)
        if stmt.value_kind == "variable":
            value = self._expand(key, stmt.value or "", stmt)
        elif stmt.value_kind == "file":
            value = "<" + (stmt.value or "")
            if stmt.value:
                resolved = resolve_relative(stmt.value, stmt.file)
                self.value_files.append((resolved, Location(stmt.file, stmt.line)))
        else:
            value = stmt.value or ""
        if section is self.root:
            earlier = self._seen_in_filter.get(key)
            if earlier is not None:
                where = f"{earlier.file} line {earlier.line}"
                self.warn(
                    stmt.file,
                    stmt.line,
                    f"Global setting {key} won't change the setting inside an earlier "
                    f"filter at {where} (if this is intentional, avoid this warning by "
                    f"moving the global setting before {where})",
                )
        elif section.filter is not None and section in self.scopes:
            self._seen_in_filter.setdefault(key, Location(stmt.file, stmt.line))
        self._order += 1
        setting = Setting(
            name=key,
            value=value,
            file=stmt.file,
            line=stmt.line,
            end_line=stmt.end_line,
            kind=stmt.value_kind,
            written=stmt.raw_value if stmt.raw_value is not None else value,
            raw_lines=stmt.raw_lines,
            value_start=stmt.value_start,
            value_end=stmt.value_end,
            order=self._order,
        )
        section.settings[key] = setting
        section.history.append(setting)

    def _begin(self, stmt: Statement) -> None:
        parent = self.stack[-1]
        where = Location(stmt.file, stmt.line)
        kind, name = stmt.key, stmt.value
        if kind in FILTER_TYPES:
            self.stack.append(self._begin_filter(parent, kind, name or "", where))
            return
        if self.version == "2.3" and not parent.is_filter and parent.type in _STRLISTS_23:
            raise ConfigError("Section not allowed here", stmt.file, stmt.line)
        self._check_auth_in_localremote(kind, stmt)
        existing = None
        if name is None:
            if self.version != "2.3" or kind in _STRLISTS_23:
                existing = parent.find_one(kind, None)
        else:
            existing = parent.find_one(kind, name)
            if existing is not None and self.version == "2.3" and kind in _NONUNIQUE_LISTS_23:
                raise ConfigError(
                    f"{kind}/{section_escape(name)} already exists", stmt.file, stmt.line
                )
        if existing is None:
            existing = Section(kind, name)
            parent.children.append(existing)
        existing.defined_at.append(where)
        self.stack.append(existing)

    def _begin_filter(self, parent: Section, kind: str, name: str, where: Location) -> Section:
        if parent.filter is None:
            # doveconf accepts a filter inside e.g. a service block and applies it to
            # that block's settings; kept in place, it takes no part in effective().
            self.warn(
                where.file, where.line, f"{kind} filter inside {parent.type} is not evaluated"
            )
            section = Section(kind, name, defined_at=[where])
            parent.children.append(section)
            return section
        spec = parent.filter.nest(kind, name, where.file, where.line)
        if spec.unresolved is not None:
            self.warn(
                where.file,
                where.line,
                f"{kind} {name}: Dovecot resolves this host name at parse time; never matched here",
            )
        section = self._filters.get(spec)
        if section is None:
            section = Section(kind, name, filter=spec)
            parent.children.append(section)
            self._filters[spec] = section
            self.scopes.append(section)
        section.defined_at.append(where)
        return section

    def _check_auth_in_localremote(self, key: str, stmt: Statement) -> None:
        if self.version != "2.3" or key not in AUTH_SETTINGS_23:
            return
        scope = next((s for s in reversed(self.stack) if s.filter is not None), self.root)
        if scope.filter is not None and scope.filter.is_localremote:
            raise ConfigError(
                f"Auth settings not supported inside local/remote blocks: {key}",
                stmt.file,
                stmt.line,
            )

    def _expand(self, key: str, raw: str, stmt: Statement) -> str:
        """``config_write_keyvariable()``: tokens split at spaces and re-joined with one."""
        white = " \t" if self.version == "2.3" else " \t\n\r\v\f"
        self_ref = ("$SET:" if self.version == "2.4" else "$") + key
        out: list[str] = []
        pos = 0
        while True:
            space = raw.find(" ", pos)
            token = raw[pos:] if space < 0 else raw[pos:space]
            out.append(self._lookup(key, stmt) if token == self_ref else token)
            if space < 0:
                break
            pos = space
            while pos < len(raw) and raw[pos] in white:
                pos += 1
        return " ".join(out)

    def _lookup(self, key: str, stmt: Statement) -> str:
        # The value at this point: the innermost enclosing filter scope that set it,
        # else the global value, else Dovecot's default.
        for section in reversed(self.stack):
            if section.filter is not None and key in section.settings:
                return section.settings[key].value
        if key in self.defaults:
            return self.defaults[key]
        self.warn(
            stmt.file,
            stmt.line,
            f"${key} refers to {key}'s default value, which is not known here; assumed empty",
        )
        return ""


def parse_dovecot(
    text: str,
    path: str,
    *,
    version: str | None = None,
    defaults: Mapping[str, str] | None = None,
) -> DovecotConfig:
    """Parse one file's text without following includes (they are recorded, not read)."""
    builder = ConfigBuilder(path, version or detect_version(text), defaults)
    builder.files.append(FileEntry(path, path, "main"))
    for stmt in lex_dovecot(text, path, builder.version):
        if stmt.kind == "include":
            builder.include_globs.append(
                IncludeGlob(
                    resolve_relative(stmt.value or "", path),
                    stmt.value or "",
                    stmt.file,
                    stmt.line,
                    stmt.value_kind == "include_try",
                )
            )
        else:
            builder.add(stmt)
    return builder.finish()
