"""The Dovecot configuration model: lexer, builder, loader, renderers.

>>> from maildrift.dovecot import parse_dovecot
>>> parse_dovecot("protocols = imap\\n", "/etc/dovecot/dovecot.conf").get("protocols").line
1
"""

from __future__ import annotations

from maildrift.dovecot.builder import ConfigBuilder, parse_dovecot
from maildrift.dovecot.lexer import Statement, detect_version, lex_dovecot
from maildrift.dovecot.loader import load_dovecot
from maildrift.dovecot.model import (
    Diagnostic,
    DovecotConfig,
    FileEntry,
    IncludeGlob,
    Location,
    Section,
    Setting,
)
from maildrift.dovecot.render import render_text, to_json
from maildrift.dovecot.values import dovecot_number, format_octal

__all__ = [
    "ConfigBuilder",
    "Diagnostic",
    "DovecotConfig",
    "FileEntry",
    "IncludeGlob",
    "Location",
    "Section",
    "Setting",
    "Statement",
    "detect_version",
    "dovecot_number",
    "format_octal",
    "lex_dovecot",
    "load_dovecot",
    "parse_dovecot",
    "render_text",
    "to_json",
]
