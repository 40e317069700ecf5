"""Surgical, formatting-preserving edits of main.cf, master.cf and Dovecot files (pure).

Text in, text out; nothing here reads or writes files. The rules are in
docs/edits.md. Enforce mode uses :mod:`maildrift.edit.restore` to put back
only the offending settings; :class:`SurgeryImpossible` means "restore the
whole file instead".
"""

from __future__ import annotations

from maildrift.edit.dovecot_edit import remove_setting, set_setting, setting_lines
from maildrift.edit.maincf_edit import assignment_lines, set_param, unset_param
from maildrift.edit.mastercf_edit import override_text, remove_override, set_override
from maildrift.edit.restore import (
    differing_dovecot,
    differing_maincf,
    differing_mastercf,
    dovecot_home,
    restore_dovecot,
    restore_maincf,
    restore_mastercf,
)
from maildrift.edit.surgery import SurgeryImpossible

__all__ = [
    "SurgeryImpossible",
    "assignment_lines",
    "differing_dovecot",
    "differing_maincf",
    "differing_mastercf",
    "dovecot_home",
    "override_text",
    "remove_override",
    "remove_setting",
    "restore_dovecot",
    "restore_maincf",
    "restore_mastercf",
    "set_override",
    "set_param",
    "set_setting",
    "setting_lines",
    "unset_param",
]
