"""Loading dovecot.conf and everything it includes through a TreeReader: the I/O side.

Includes are read where they stand, depth first, as Dovecot reads them: a
glob's matches in sorted order (brace alternatives in written order), each
file's statements before the line after the ``!include``. A plain
``!include`` matching nothing is fatal (2.3.19); ``!include_try`` is not.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping

from maildrift.dovecot.builder import ConfigBuilder, resolve_relative
from maildrift.dovecot.lexer import detect_version, lex_dovecot
from maildrift.dovecot.model import DovecotConfig, FileEntry, IncludeGlob
from maildrift.errors import ConfigError
from maildrift.filestore import TreeReader
from maildrift.textdecode import decode_config

__all__ = ["MAX_INCLUDED_FILES", "MAX_INCLUDE_DEPTH", "expand_braces", "load_dovecot"]

#: Deeper nesting is a loop Dovecot does not detect (paths spelled differently).
MAX_INCLUDE_DEPTH = 64
#: A bound on files read, against brace/glob fan-out that repeats files.
MAX_INCLUDED_FILES = 4096


def load_dovecot(
    config_file: str,
    reader: TreeReader,
    *,
    defaults: Mapping[str, str] | None = None,
) -> DovecotConfig:
    """Read ``config_file`` and its includes through ``reader`` into a :class:`DovecotConfig`.

    ``defaults`` (e.g. from ``doveconf -d``) supplies the value a ``$KEY``
    self-reference starts from when KEY was not set before; without it an empty
    default is assumed and a warning recorded.
    """
    data = reader.read(config_file)
    text = decode_config(data.data, config_file)
    builder = ConfigBuilder(config_file, detect_version(text), defaults)
    builder.files.append(FileEntry(config_file, data.read_path, "main"))
    loader = _Loader(reader, builder)
    loader.feed(config_file, text, [_identity(reader, config_file)])
    return builder.finish(reader.host_path)


class _Loader:
    def __init__(self, reader: TreeReader, builder: ConfigBuilder):
        self.reader = reader
        self.builder = builder
        self.count = 0
        self.listed: set[tuple[str, str]] = set()

    def feed(self, path: str, text: str, stack: list[str]) -> None:
        for stmt in lex_dovecot(text, path, self.builder.version):
            if stmt.kind != "include":
                self.builder.add(stmt)
                continue
            optional = stmt.value_kind == "include_try"
            pattern = resolve_relative(stmt.value or "", path)
            matches = self._glob(pattern)
            self.builder.include_globs.append(
                IncludeGlob(pattern, stmt.value or "", path, stmt.line, optional, tuple(matches))
            )
            if not matches:
                if not optional:
                    raise ConfigError(f"!include {stmt.value}: No matches", path, stmt.line)
                self._list(pattern, "include_try-missing")
                continue
            for match in matches:
                self._include(match, optional, path, stmt.line, stack)

    def _include(
        self, match: str, optional: bool, parent: str, line: int, stack: list[str]
    ) -> None:
        st = self.reader.stat(match)
        if st is None and optional:
            # Gone between glob and open, or a dangling/looping symlink: doveconf's
            # !include_try skips a file it cannot open.
            self._list(match, "include_try-missing")
            return
        if st is not None and stat.S_ISDIR(st.st_mode):
            # doveconf opens a directory, reads nothing, and goes on.
            self.builder.warn(parent, line, f"included path is a directory: {match}")
            return
        ident = f"{st.st_dev}:{st.st_ino}" if st is not None else _identity(self.reader, match)
        if ident in stack:
            raise ConfigError(f"Recursive include file: {match}", parent, line)
        if len(stack) >= MAX_INCLUDE_DEPTH:
            raise ConfigError(f"includes nested deeper than {MAX_INCLUDE_DEPTH}", parent, line)
        self.count += 1
        if self.count > MAX_INCLUDED_FILES:
            raise ConfigError(f"more than {MAX_INCLUDED_FILES} included files", parent, line)
        try:
            data = self.reader.read(match)
        except ConfigError as exc:
            raise ConfigError(f"{exc.message} (included from {parent}:{line})", match) from None
        text = decode_config(data.data, match)
        self._list(match, "include", data.read_path)
        self.feed(match, text, [*stack, ident])

    def _glob(self, pattern: str) -> list[str]:
        found: list[str] = []
        for alternative in expand_braces(pattern):
            if _has_magic(alternative):
                found.extend(self.reader.glob(alternative))
            elif self.reader.lexists(alternative):
                found.append(alternative)
        return found

    def _list(self, path: str, role: str, read_path: str | None = None) -> None:
        if (path, role) in self.listed:
            return
        self.listed.add((path, role))
        self.builder.files.append(FileEntry(path, read_path or self.reader.host_path(path), role))


def _identity(reader: TreeReader, path: str) -> str:
    # Dovecot compares include paths as strings; the real path also catches a loop
    # spelled two ways (conf.d/../dovecot.conf), which doveconf only stops when
    # the path grows too long.
    host = reader.host_path(path)
    try:
        st = os.stat(host)
    except OSError:
        return os.path.realpath(host)
    # The file's identity: one stat instead of an lstat per path component.
    return f"{st.st_dev}:{st.st_ino}"


def _has_magic(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def expand_braces(pattern: str) -> list[str]:
    """GLOB_BRACE: ``{a,b}`` alternatives in written order, nested braces included.

    >>> expand_braces("conf.d/{b,a}.conf"), expand_braces("x{1,{2,3}}y"), expand_braces("{a")
    (['conf.d/b.conf', 'conf.d/a.conf'], ['x1y', 'x2y', 'x3y'], ['{a'])
    """
    depth = 0
    start = -1
    commas: list[int] = []
    for i, char in enumerate(pattern):
        if char == "{":
            if depth == 0:
                start, commas = i, []
            depth += 1
        elif char == "," and depth == 1:
            commas.append(i)
        elif char == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                cuts = [start, *commas, i]
                head, tail = pattern[:start], pattern[i + 1 :]
                result: list[str] = []
                for left, right in zip(cuts, cuts[1:]):
                    result.extend(expand_braces(head + pattern[left + 1 : right] + tail))
                return result
    return [pattern]
