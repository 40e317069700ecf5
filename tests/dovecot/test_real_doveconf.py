"""Agreement of the model with the real doveconf 2.3 on every corpus case."""

from __future__ import annotations

from pathlib import Path

import pytest

from maildrift.dovecot import load_dovecot
from maildrift.dovecot.builder import section_escape
from maildrift.dovecot.values import dovecot_number
from maildrift.errors import ConfigError
from maildrift.filestore import TreeReader
from tests.dovecot.doveconf_tool import (
    contexts_for,
    doveconf_defaults,
    doveconf_flat,
    doveconf_value,
    flatten_model,
    run_doveconf,
)

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "dovecot.conf").is_file())

# doveconf -N prints these although nothing set them: a namespace's location and
# prefix are filled in with their (empty) defaults.
_IMPLICIT = {"location", "prefix"}

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def defaults(tmp_path_factory) -> dict[str, str]:
    """Dovecot's defaults on this host, for $KEY self-references."""
    from tests.realtools import require_tool

    empty = tmp_path_factory.mktemp("empty") / "empty.conf"
    empty.write_text("")
    return doveconf_defaults(require_tool("doveconf"), str(empty))


def _load(case: str, defaults: dict[str, str]):
    return load_dovecot(str(CORPUS / case / "dovecot.conf"), TreeReader(), defaults=defaults)


def _same(key: tuple[str, ...], ours: str, theirs: str) -> bool:
    if key[-1] == "mode":
        # doveconf prints octal ("01224"); the model keeps the value as written.
        return dovecot_number(ours) == int(theirs, 8)
    return ours == theirs


def test_corpus_has_every_hard_case():
    """The corpus holds the cases the issue lists, the stock tree included."""
    expected = {"stock", "globs", "include-try", "local-override", "split-section", "filters"}
    expected |= {"self-reference", "modes", "syntax", "value-files"}
    assert expected <= set(CASES)


@pytest.mark.parametrize("case", CASES)
def test_structure_agrees_with_doveconf_N(case, doveconf_bin, defaults):
    """Every model section and value is what doveconf -N -P prints; nothing is missing."""
    conf = str(CORPUS / case / "dovecot.conf")
    theirs = doveconf_flat(doveconf_bin, conf)
    ours = flatten_model(_load(case, defaults))
    assert ours, case
    for key, value in ours.items():
        assert key in theirs, f"{case}: {key} not printed by doveconf"
        assert _same(key, value, theirs[key]), f"{case}: {key}: {value!r} != {theirs[key]!r}"
    extra = {k: v for k, v in theirs.items() if k not in ours}
    unexplained = {k: v for k, v in extra.items() if not (k[-1] in _IMPLICIT and v == "")}
    assert unexplained == {}, case


@pytest.mark.parametrize("case", CASES)
def test_effective_values_agree_with_doveconf_h(case, doveconf_bin, defaults, tmp_path):
    """For every setting the case sets and every relevant connection, doveconf -h gives the same."""
    model = _load(case, defaults)
    conf = str(CORPUS / case / "dovecot.conf")
    empty = tmp_path / "empty.conf"
    empty.write_text("")
    names = sorted({n for scope in model.scopes for n in model.scope_settings(scope)})
    compared = 0
    for context in contexts_for(model):
        for name in names:
            rc, printed = doveconf_value(doveconf_bin, conf, name, context)
            try:
                setting = model.effective(name, **context)
            except ConfigError as exc:
                assert rc != 0 and exc.message in printed, (case, context, name, printed)
                continue
            assert rc == 0, (case, context, name, printed)
            if setting is None:
                rc, printed_default = doveconf_value(doveconf_bin, str(empty), name, context)
                assert printed == printed_default, (case, context, name)
            else:
                assert _same((name,), setting.value, printed), (case, context, name)
            compared += 1
    assert compared >= len(names)


@pytest.mark.parametrize("case", CASES)
def test_section_values_agree_with_doveconf_h(case, doveconf_bin, defaults):
    """Settings inside named sections match doveconf -h service/auth/… paths."""
    model = _load(case, defaults)
    conf = str(CORPUS / case / "dovecot.conf")
    compared = 0
    for path, setting in _named_section_settings(model.root, ""):
        rc, printed = doveconf_value(doveconf_bin, conf, path, {})
        assert rc == 0, (case, path, printed)
        assert _same((setting.name,), setting.value, printed), (case, path, printed)
        compared += 1
    if case in ("modes", "split-section", "local-override", "stock", "syntax"):
        assert compared > 0, case


def _named_section_settings(section, prefix):
    # doveconf's internal paths: type/escaped-name/…; list items and filters have none.
    for child in section.children:
        if child.is_filter or child.name is None or child.type in ("passdb", "userdb"):
            continue
        path = f"{prefix}{child.type}/{section_escape(child.name)}/"
        for name, setting in child.settings.items():
            yield path + name, setting
        yield from _named_section_settings(child, path)


def test_doveconf_accepts_every_corpus_case(doveconf_bin):
    """Each corpus case is a configuration the real doveconf loads without error."""
    for case in CASES:
        out = run_doveconf(doveconf_bin, "-c", str(CORPUS / case / "dovecot.conf"), "-n")
        assert out.returncode == 0, (case, out.stderr)
