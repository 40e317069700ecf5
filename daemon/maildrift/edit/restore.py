"""Surgical reverts: put the last-known-good (LKG) value back for a few restore keys only.

Given the LKG text and the current text of one file and the keys to restore,
each function returns the current text with only those keys changed: a key the
LKG set gets the LKG's value back (its own raw lines in main.cf, its own word
in master.cf, its own value text in Dovecot), a key the LKG did not set is
removed. Keys whose effective value is the same in both texts are not touched.
Everything else of the current text -- other changes of the same edit,
comments, layout -- stays as it is.

Every result is checked before it is returned: it must parse, the restored
keys must have the LKG's effective values and every other key its current
one. When that cannot be had, :class:`SurgeryImpossible` says why and the
caller restores the whole file.

The issue's example: one save changes ``myhostname``, drops ``noplaintext``
and sets ``smtpd_tls_auth_only = no``.

>>> lkg = ("myhostname = mx1.example.com\\n"
...        "smtpd_sasl_security_options = noanonymous, noplaintext\\n")
>>> current = ("myhostname = mx2.example.com\\n"
...            "smtpd_sasl_security_options = noanonymous\\n"
...            "smtpd_tls_auth_only = no\\n")
>>> keys = ["smtpd_sasl_security_options", "smtpd_tls_auth_only"]
>>> differing_maincf(current, lkg, [*keys, "myhostname"])
['smtpd_sasl_security_options', 'smtpd_tls_auth_only', 'myhostname']
>>> print(restore_maincf(current, lkg, keys), end="")
myhostname = mx2.example.com
smtpd_sasl_security_options = noanonymous, noplaintext
"""

from __future__ import annotations

from collections.abc import Iterable

from maildrift.dovecot.model import DovecotConfig, Section
from maildrift.edit.dovecot_edit import (
    FileIndex,
    SectionPath,
    describe,
    index_file,
    meaning,
    remove_setting,
    set_setting,
    setting_lines,
)
from maildrift.edit.maincf_edit import assignment_lines, parse_or_refuse, set_param, unset_param
from maildrift.edit.mastercf_edit import override_text, remove_override, set_override
from maildrift.edit.mastercf_edit import parse_or_refuse as parse_master_or_refuse
from maildrift.edit.surgery import SurgeryImpossible
from maildrift.postfix.mastercf import MasterCf

__all__ = [
    "differing_dovecot",
    "differing_maincf",
    "differing_mastercf",
    "dovecot_home",
    "restore_dovecot",
    "restore_maincf",
    "restore_mastercf",
]

MasterKey = tuple[str, str]
DovecotKey = tuple[SectionPath, str]


def _unique(keys: Iterable) -> list:
    return list(dict.fromkeys(keys))


def _lkg(error: SurgeryImpossible) -> SurgeryImpossible:
    return SurgeryImpossible(f"last-known-good copy: {error.reason}", error.file)


# -- main.cf -------------------------------------------------------------------


def _maincf_values(text: str, file: str) -> dict[str, str]:
    return {name: a.value_raw for name, a in parse_or_refuse(text, file).effective().items()}


def differing_maincf(
    current_text: str, lkg_text: str, names: Iterable[str], file: str = "main.cf"
) -> list[str]:
    """The names whose effective raw value (or being set at all) differs."""
    try:
        lkg = _maincf_values(lkg_text, file)
    except SurgeryImpossible as exc:
        raise _lkg(exc) from None
    current = _maincf_values(current_text, file)
    return [n for n in _unique(names) if lkg.get(n) != current.get(n)]


def restore_maincf(
    current_text: str, lkg_text: str, names: Iterable[str], file: str = "main.cf"
) -> str:
    """``current_text`` with each of ``names`` as the LKG had it (its raw lines), or unset."""
    todo = differing_maincf(current_text, lkg_text, names, file)
    text = current_text
    for name in todo:
        lines = assignment_lines(lkg_text, name, file)
        text = (
            unset_param(text, name, file) if lines is None else set_param(text, name, lines, file)
        )
    expected = _maincf_values(current_text, file)
    lkg = _maincf_values(lkg_text, file)
    for name in todo:
        expected.pop(name, None)
        if name in lkg:
            expected[name] = lkg[name]
    _verify(_maincf_values(text, file) == expected, todo, file)
    return text


def _verify(ok: bool, keys: list, file: str) -> None:
    if not ok:
        raise SurgeryImpossible(f"the edited file does not have the expected values ({keys})", file)


# -- master.cf -----------------------------------------------------------------


def _master_meaning(cf: MasterCf) -> dict[str, tuple]:
    """Per effective entry: its fields, its non-``-o`` words, its effective overrides."""
    found = {}
    for service in cf.effective_services():
        words = []
        skip = 0
        for index, token in enumerate(service.args):
            if skip:
                skip -= 1
                continue
            if index < service.options_end and token.text == "-o":
                skip = 1
                continue
            words.append(token.text)
        fields = (service.private, service.unprivileged, service.chroot, service.wakeup)
        fields += (service.process_limit, service.command)
        overrides = {o.name: o.value_raw for o in service.overrides}
        found[service.key] = (fields, tuple(words), overrides)
    return found


def _override_values(cf: MasterCf, keys: list[MasterKey]) -> dict[MasterKey, str | None]:
    values: dict[MasterKey, str | None] = {}
    for service_key, name in keys:
        service = cf.find(service_key)
        override = service.override(name) if service is not None else None
        values[(service_key, name)] = None if override is None else override.value_raw
    return values


def differing_mastercf(
    current_text: str, lkg_text: str, keys: Iterable[MasterKey], file: str = "master.cf"
) -> list[MasterKey]:
    """The (``service/type``, name) keys whose effective ``-o`` value differs."""
    keys = _unique(tuple(k) for k in keys)
    try:
        lkg = _override_values(parse_master_or_refuse(lkg_text, file), keys)
    except SurgeryImpossible as exc:
        raise _lkg(exc) from None
    current = _override_values(parse_master_or_refuse(current_text, file), keys)
    return [k for k in keys if lkg[k] != current[k]]


def restore_mastercf(
    current_text: str, lkg_text: str, keys: Iterable[MasterKey], file: str = "master.cf"
) -> str:
    """``current_text`` with each ``-o`` of ``keys`` as the LKG had it (its own word), or removed.

    An entry that is gone from the current file raises :class:`SurgeryImpossible`.
    """
    todo = differing_mastercf(current_text, lkg_text, keys, file)
    lkg_cf = parse_master_or_refuse(lkg_text, file)
    lkg = _override_values(lkg_cf, todo)
    text = current_text
    for service_key, name in todo:
        value = lkg[(service_key, name)]
        if value is None:
            text = remove_override(text, service_key, name, file)
        else:
            written = override_text(lkg_text, service_key, name, file)
            text = set_override(text, service_key, name, value, file, written=written)
    expected = _master_meaning(parse_master_or_refuse(current_text, file))
    for (service_key, name), value in lkg.items():
        overrides = expected[service_key][2]
        overrides.pop(name, None)
        if value is not None:
            overrides[name] = value
    _verify(_master_meaning(parse_master_or_refuse(text, file)) == expected, todo, file)
    return text


# -- Dovecot -------------------------------------------------------------------


def _dovecot_meaning(index: FileIndex) -> dict[DovecotKey, tuple[str, str]]:
    return {key: meaning(found[-1]) for key, found in index.settings.items()}


def differing_dovecot(
    current_text: str,
    lkg_text: str,
    keys: Iterable[DovecotKey],
    file: str,
    *,
    version: str | None = None,
) -> list[DovecotKey]:
    """The (section path, name) keys whose effective value in this file differs."""
    keys = _unique((tuple(tuple(p) for p in path), name) for path, name in keys)
    try:
        lkg = _dovecot_meaning(index_file(lkg_text, file, version))
    except SurgeryImpossible as exc:
        raise _lkg(exc) from None
    current = _dovecot_meaning(index_file(current_text, file, version))
    return [k for k in keys if lkg.get(k) != current.get(k)]


def restore_dovecot(
    current_text: str,
    lkg_text: str,
    keys: Iterable[DovecotKey],
    file: str,
    *,
    version: str | None = None,
) -> str:
    """``current_text`` with each setting of ``keys`` as the LKG file had it, or removed.

    Section paths are from the top of this file. A section the LKG set the
    name in and that is gone now raises :class:`SurgeryImpossible`; so does a
    file whose braces do not balance on their own.
    """
    todo = differing_dovecot(current_text, lkg_text, keys, file, version=version)
    lkg_index = index_file(lkg_text, file, version)
    text = current_text
    for path, name in todo:
        stmt = lkg_index.effective(path, name)
        if stmt is None:
            text = remove_setting(text, file, path, name, version=version)
        elif stmt.raw_value is not None:
            text = set_setting(text, file, path, name, stmt.raw_value, version=version)
        else:
            # Continued over lines: its own raw lines come back.
            lines = setting_lines(lkg_text, file, path, name, version) or ()
            text = set_setting(text, file, path, name, lines, version=version)
    before = index_file(current_text, file, version)
    after = index_file(text, file, version)
    expected = _dovecot_meaning(before)
    lkg = _dovecot_meaning(lkg_index)
    for key in todo:
        expected.pop(key, None)
        if key in lkg:
            expected[key] = lkg[key]
    ok = _dovecot_meaning(after) == expected and set(after.blocks) == set(before.blocks)
    _verify(ok, todo, file)
    return text


def _section(config: DovecotConfig, path: SectionPath) -> Section | None:
    return config.section(*path) if path else config.root


def dovecot_home(
    current: DovecotConfig, lkg: DovecotConfig, section_path: SectionPath, name: str
) -> str | None:
    """The file in which to restore ``name`` of ``section_path`` (a path in the merged model).

    None when the effective assignment is the same in both. Raises
    :class:`SurgeryImpossible` when the setting moved to another file, when
    its section is gone, or when removing it would bring an assignment in
    another file into effect: then the whole file (or tree) is restored.
    """
    path = tuple(tuple(p) for p in section_path)
    now_section, then_section = _section(current, path), _section(lkg, path)
    now = now_section.get(name) if now_section is not None else None
    then = then_section.get(name) if then_section is not None else None
    where = f"{describe(path)} / {name}"
    if now is None and then is None:
        return None
    if then is not None and now_section is None:
        raise SurgeryImpossible(f"section {describe(path)} is gone", then.file)
    if then is not None and now is not None:
        if then.file != now.file:
            raise SurgeryImpossible(f"{where} moved from {then.file} to {now.file}", now.file)
        return None if (then.kind, then.value) == (now.kind, now.value) else now.file
    if then is not None:
        if then.file not in {entry.path for entry in current.files}:
            raise SurgeryImpossible(f"{then.file} is no longer part of the configuration")
        return then.file
    assert now is not None and now_section is not None
    others = {s.file for s in now_section.history if s.name == name} - {now.file}
    if others:
        raise SurgeryImpossible(f"{where} is also set in {', '.join(sorted(others))}", now.file)
    return now.file
