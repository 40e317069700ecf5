"""Remediation: a rule with no last-known-good at all gets its policy ``remediation``.

Only with ``enforce: {remediation: true}`` (off by default): without a
last-known-good, maildrift never saw the rule pass here, so it only reports.
When switched on, a rule's ``remediation`` becomes a plan like a revert's:

- ``{param: NAME, value: V}`` for Postfix sets ``NAME = V`` in main.cf (the
  effective assignment's lines, or a new line at the end);
- for Dovecot, in the file that sets it now, else at the top of the main file;
- ``{path: P, mode, owner, group}`` is a chmod/chown of P.

Section remediations (``settings`` in a Dovecot section) are not planned: the
rule is reported ``invalid`` with that reason.  The plan then goes through the
same candidate check, quarantine and compare-and-swap as a revert.
"""

from __future__ import annotations

import os

from maildrift.edit.dovecot_edit import set_setting
from maildrift.edit.maincf_edit import set_param
from maildrift.edit.surgery import SurgeryImpossible
from maildrift.enforce.planner import FileWrite, MetaRestore, Plan
from maildrift.enforce.safewrite import FileMeta
from maildrift.enforce.treestate import TreeState

__all__ = ["plan_remediation"]


def _value_plan(remedy, mail, state: TreeState, postfix_dir: str) -> tuple[Plan | None, str]:
    param = remedy.param
    if param.component == "postfix":
        path = os.path.join(postfix_dir, "main.cf")
        text = state.text(path)
        if text is None:
            return None, f"{path} was not read"
        new = set_param(text, param.name, remedy.value, path)
    elif param.component == "dovecot" and mail.dovecot is not None:
        setting = mail.dovecot.get(param.name)
        path = setting.file if setting is not None else mail.dovecot.config_file
        text = state.text(path)
        if text is None:
            return None, f"{path} was not read"
        new = set_setting(text, path, (), param.name, remedy.value)
    else:
        return None, f"no {param.component} configuration to remediate"
    if new == text:
        return None, "the remediation changes nothing"
    now = state.files[path]
    write = FileWrite(path, new.encode("utf-8", "surrogateescape"), now.sha256, "remediated")
    return Plan(writes=(write,), outcome="remediated"), ""


def _file_plan(remedy, mail, state: TreeState) -> tuple[Plan | None, str]:
    path = remedy.path
    if path is None:
        return None, "a remediation by parameter path is not planned"
    now = state.files.get(path)
    if now is None or not now.exists:
        return None, f"{path} does not exist"
    users, groups = mail.files.users, mail.files.groups
    uid = users.get(remedy.owner, now.uid) if remedy.owner else now.uid
    gid = groups.get(remedy.group, now.gid) if remedy.group else now.gid
    mode = remedy.mode if remedy.mode is not None else now.mode
    if (mode, uid, gid) == (now.mode, now.uid, now.gid):
        return None, "the remediation changes nothing"
    return Plan(metas=(MetaRestore(path, FileMeta(mode, uid, gid)),), outcome="remediated"), ""


def plan_remediation(rule, mail, state: TreeState, postfix_dir: str) -> tuple[Plan | None, str]:
    """The plan for ``rule``'s remediation, or None and why not."""
    remedy = rule.remediation
    if remedy is None:
        return None, "the rule has no remediation"
    try:
        if hasattr(remedy, "value"):
            return _value_plan(remedy, mail, state, postfix_dir)
        if hasattr(remedy, "mode"):
            return _file_plan(remedy, mail, state)
    except SurgeryImpossible as exc:
        return None, exc.reason
    return None, "section remediations are not planned"
