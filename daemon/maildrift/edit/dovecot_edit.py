"""Surgical edits of one Dovecot configuration file: one setting of one section.

A section is named by its path from the top of *that file*: ``(type, name)``
pairs, ``name`` None for an unnamed section, ``()`` for the file's top level.
Blocks with the same path merge, as Dovecot merges them, so the effective
assignment in the file is the last one under that path.

Setting replaces the value columns of that assignment (a trailing comment
stays), or the whole statement when it is continued over lines with ``\\``;
a name the section does not set is inserted before the closing ``}`` of the
section's last block, indented like its siblings (at the end of the file for
the top level). Removing drops every assignment of the name under that path.

Refused with :class:`SurgeryImpossible`: a file that does not lex, whose
braces do not balance within the file (a section opened in one file and
closed in another), a section that is not in the file, or an unnamed section
that Dovecot keeps as several list items (2.3 ``passdb {}`` twice).

>>> text = "auth_mechanisms = plain   # AUTH\\nservice auth {\\n  user = root\\n}\\n"
>>> print(set_setting(text, "d.conf", (), "auth_mechanisms", "plain login"), end="")
auth_mechanisms = plain login   # AUTH
service auth {
  user = root
}
>>> print(set_setting(text, "d.conf", (("service", "auth"),), "group", "dovecot"), end="")
auth_mechanisms = plain   # AUTH
service auth {
  user = root
  group = dovecot
}
>>> print(remove_setting(text, "d.conf", (("service", "auth"),), "user"), end="")
auth_mechanisms = plain   # AUTH
service auth {
}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

from maildrift.dovecot.lexer import Statement, detect_version, lex_dovecot
from maildrift.edit.surgery import (
    SurgeryImpossible,
    append_lines,
    body,
    cr_of,
    splice,
    split_lines,
)
from maildrift.errors import ConfigError

__all__ = [
    "FileIndex",
    "SectionPath",
    "index_file",
    "meaning",
    "remove_setting",
    "set_setting",
    "setting_lines",
]

#: ``(("service", "auth"), ("unix_listener", "/var/spool/postfix/private/auth"))``
SectionPath = tuple[tuple[str, Optional[str]], ...]

# 2.3: unnamed blocks of these types merge; other unnamed blocks are list items.
_MERGING_UNNAMED_23 = frozenset(["plugin", "dict"])


@dataclass
class FileIndex:
    """One file's statements by section path, as the edits need them."""

    file: str
    version: str
    #: (path, name) -> assignments in file order; the last one is effective in this file.
    settings: dict[tuple[SectionPath, str], list[Statement]] = field(default_factory=dict)
    #: path -> (first line, closing line) of every block with that path.
    blocks: dict[SectionPath, list[tuple[int, int]]] = field(default_factory=dict)
    #: path -> every statement directly inside it (for the siblings' indentation).
    children: dict[SectionPath, list[Statement]] = field(default_factory=dict)
    #: Paths that name more than one section (unnamed list items).
    ambiguous: set[SectionPath] = field(default_factory=set)
    #: Why the file's braces do not balance, or None.
    unbalanced: str | None = None

    def effective(self, path: SectionPath, name: str) -> Statement | None:
        found = self.settings.get((path, name))
        return found[-1] if found else None

    def check_section(self, path: SectionPath) -> None:
        """Raise SurgeryImpossible unless ``path`` is one section of this file."""
        if self.unbalanced is not None:
            raise SurgeryImpossible(self.unbalanced, self.file)
        if path and path not in self.blocks:
            raise SurgeryImpossible(f"section {describe(path)} is not in this file", self.file)
        if any(path[:n] in self.ambiguous for n in range(1, len(path) + 1)):
            raise SurgeryImpossible(f"section {describe(path)} is not unique", self.file)


def describe(path: SectionPath) -> str:
    """``service auth / unix_listener x`` for messages; ``top level`` for ``()``."""
    parts = [kind if name is None else f"{kind} {name}" for kind, name in path]
    return " / ".join(parts) or "top level"


def meaning(stmt: Statement) -> tuple[str, str]:
    """What an assignment sets, independent of quoting: (kind, value)."""
    kind = "text" if stmt.value_kind in ("plain", "quoted") else stmt.value_kind
    return kind, stmt.value or ""


def index_file(text: str, file: str, version: str | None = None) -> FileIndex:
    """Lex ``text`` and index it; SurgeryImpossible when it does not lex."""
    version = version or detect_version(text)
    try:
        statements = lex_dovecot(text, file, version)
    except ConfigError as exc:
        raise SurgeryImpossible(f"does not parse: {exc}", file) from None
    index = FileIndex(file, version)
    stack: list[tuple[SectionPath, int]] = []  # (path, first line) of open blocks
    opened: dict[SectionPath, int] = {}
    for stmt in statements:
        path = stack[-1][0] if stack else ()
        if stmt.kind == "end":
            if not stack:
                index.unbalanced = f"line {stmt.line} closes a section opened in another file"
                break
            closed, first = stack.pop()
            index.blocks.setdefault(closed, []).append((first, stmt.line))
            continue
        index.children.setdefault(path, []).append(stmt)
        if stmt.kind == "assign":
            index.settings.setdefault((path, stmt.key), []).append(stmt)
        elif stmt.kind == "begin":
            child = (*path, (stmt.key, stmt.value))
            opened[child] = opened.get(child, 0) + 1
            if (
                opened[child] > 1
                and stmt.value is None
                and version == "2.3"
                and stmt.key not in _MERGING_UNNAMED_23
            ):
                index.ambiguous.add(child)
            stack.append((child, stmt.line))
    if stack and index.unbalanced is None:
        index.unbalanced = f"section opened at line {stack[-1][1]} is closed in another file"
    return index


def _one_statement(lines: Sequence[str], name: str, file: str, version: str) -> Statement:
    """``lines`` must be exactly one assignment of ``name``."""
    if not lines or any("\n" in line for line in lines):
        raise ValueError(f"not the physical lines of one setting: {tuple(lines)!r}")
    try:
        found = lex_dovecot("\n".join(lines) + "\n", file, version)
    except ConfigError as exc:
        raise ValueError(f"the new lines for {name} do not parse: {exc}") from None
    if (
        len(found) != 1
        or found[0].kind != "assign"
        or found[0].key != name
        or (found[0].line, found[0].end_line) != (1, len(lines))
    ):
        raise ValueError(f"not exactly one assignment of {name}: {tuple(lines)!r}")
    return found[0]


def setting_lines(
    text: str, file: str, section_path: SectionPath, name: str, version: str | None = None
) -> tuple[str, ...] | None:
    """The raw physical lines (no ``\\n``) of the effective assignment, or None."""
    stmt = index_file(text, file, version).effective(tuple(section_path), name)
    if stmt is None:
        return None
    return tuple(body(line) for line in split_lines(text)[stmt.line - 1 : stmt.end_line])


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def set_setting(
    text: str,
    file: str,
    section_path: SectionPath,
    name: str,
    value: str | Sequence[str],
    *,
    version: str | None = None,
) -> str:
    """``text`` with ``name`` set to ``value`` in the section ``section_path``.

    ``value`` is the value as written in a file (quotes, ``<path`` and
    ``$KEY`` included), or the raw physical lines of one whole assignment
    (e.g. the last-known-good file's, from :func:`setting_lines`).
    """
    path = tuple(section_path)
    index = index_file(text, file, version)
    index.check_section(path)
    if isinstance(value, str):
        if "\n" in value:
            raise ValueError(f"a Dovecot value cannot hold a newline: {value!r}")
        expected = _one_statement([f"{name} = {value}"], name, file, index.version)
    else:
        expected = _one_statement(value, name, file, index.version)
    lines = split_lines(text)
    current = index.effective(path, name)
    if current is not None:
        raw = body(lines[current.line - 1])
        if isinstance(value, str) and current.value_start is not None:
            new = [raw[: current.value_start] + value + raw[current.value_end :]]
        elif isinstance(value, str):
            new = [f"{_indent_of(raw)}{name} = {value}{cr_of(raw)}"]
        else:
            new = list(value)
        result = splice(lines, current.line, current.end_line, new)
    else:
        result = _insert(index, lines, text, path, name, value)
    after = index_file(result, file, index.version).effective(path, name)
    if after is None or meaning(after) != meaning(expected):
        raise SurgeryImpossible(f"{name} = {value!r} would not take effect here", file)
    return result


def _insert(
    index: FileIndex,
    lines: list[str],
    text: str,
    path: SectionPath,
    name: str,
    value: str | Sequence[str],
) -> str:
    if not path:
        last = lines[-1] if lines else None
        if last is not None and body(last).rstrip(" \t\r").endswith("\\"):
            raise SurgeryImpossible("the file ends inside a '\\' continuation", index.file)
        new = [f"{name} = {value}{cr_of(last)}"] if isinstance(value, str) else list(value)
        return append_lines(text, new)
    _first, closing = index.blocks[path][-1]
    closing_line = lines[closing - 1]
    if isinstance(value, str):
        new = [f"{_sibling_indent(index, lines, path, closing)}{name} = {value}"]
        new = [line + cr_of(closing_line) for line in new]
    else:
        new = list(value)
    return splice(lines, closing, closing, [*new, body(closing_line)])


def _sibling_indent(index: FileIndex, lines: list[str], path: SectionPath, closing: int) -> str:
    """The indentation of the statements directly inside ``path``."""
    for stmt in index.children.get(path, []):
        return _indent_of(body(lines[stmt.line - 1]))
    return _indent_of(body(lines[closing - 1])) + "  "


def remove_setting(
    text: str,
    file: str,
    section_path: SectionPath,
    name: str,
    *,
    version: str | None = None,
) -> str:
    """``text`` without any assignment of ``name`` in ``section_path`` (the section must exist)."""
    path = tuple(section_path)
    index = index_file(text, file, version)
    index.check_section(path)
    for stmt in reversed(index.settings.get((path, name), [])):
        text = splice(split_lines(text), stmt.line, stmt.end_line, [])
    return text
