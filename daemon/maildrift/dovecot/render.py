"""The model as JSON (a stable interface) and as text in the style of ``doveconf -n``.

>>> from maildrift.dovecot.builder import parse_dovecot
>>> cfg = parse_dovecot("ssl = yes\\nservice auth {\\n  user = root\\n}\\n", "/d.conf")
>>> print(render_text(cfg), end="")
# /d.conf (Dovecot 2.3)
ssl = yes  # /d.conf:1
service auth {  # /d.conf:2
  user = root  # /d.conf:3
}
>>> to_json(cfg)["sections"][0]["defined_at"]
[{'file': '/d.conf', 'line': 2}]
"""

from __future__ import annotations

from typing import Any

from maildrift.dovecot.model import DovecotConfig, Section, Setting
from maildrift.dovecot.values import display_value

__all__ = ["render_text", "section_to_json", "setting_to_json", "to_json"]


def setting_to_json(setting: Setting) -> dict[str, Any]:
    return {"value": setting.value, "file": setting.file, "line": setting.line}


def section_to_json(section: Section) -> dict[str, Any]:
    return {
        "type": section.type,
        "name": section.name,
        "defined_at": [{"file": loc.file, "line": loc.line} for loc in section.defined_at],
        "settings": {name: setting_to_json(s) for name, s in sorted(section.settings.items())},
        "sections": [section_to_json(child) for child in section.children],
    }


def to_json(model: DovecotConfig) -> dict[str, Any]:
    """The documented JSON form; ``include_globs`` lets a watcher see new matching files."""
    return {
        "config_file": model.config_file,
        "version": model.version,
        "files": [{"path": f.path, "read_path": f.read_path, "role": f.role} for f in model.files],
        "settings": {name: setting_to_json(s) for name, s in sorted(model.settings.items())},
        "sections": [section_to_json(child) for child in model.root.children],
        "include_globs": [
            {"pattern": g.pattern, "file": g.file, "line": g.line, "optional": g.optional}
            for g in model.include_globs
        ],
    }


def render_text(model: DovecotConfig) -> str:
    """Sorted settings, then sections (filters last), each with ``# file:line``."""
    lines = [f"# {model.config_file} (Dovecot {model.version})"]
    _render_body(model.root, 0, lines)
    for warning in model.warnings:
        lines.append(f"# warning: {warning}")
    return "\n".join(lines) + "\n"


def _render_body(section: Section, depth: int, lines: list[str]) -> None:
    pad = "  " * depth
    for name, setting in sorted(section.settings.items()):
        lines.append(
            f"{pad}{name} = {display_value(setting.value)}  # {setting.file}:{setting.line}"
        )
    ordered = [c for c in section.children if not c.is_filter] + [
        c for c in section.children if c.is_filter
    ]
    for child in ordered:
        head = child.type if child.name is None else f"{child.type} {_section_name(child.name)}"
        places = ", ".join(f"{loc.file}:{loc.line}" for loc in child.defined_at)
        lines.append(f"{pad}{head} {{  # {places}")
        _render_body(child, depth + 1, lines)
        lines.append(f"{pad}}}")


def _section_name(name: str) -> str:
    if name == "" or any(c in name for c in ' \t"#{'):
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return name
