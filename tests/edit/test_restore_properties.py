"""Property tests of main.cf restores on generated files.

For random LKG and current texts (comments, blank lines, continuations with
comments inside, duplicates, CRLF, no final newline) and random restore sets:
the result parses, restored names have the LKG's effective value, all other
names keep the current one, and every line outside the touched assignments
is byte-identical. A bounded number of examples also goes through postconf.
"""

from __future__ import annotations

import os
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maildrift.edit.restore import restore_maincf
from maildrift.edit.surgery import body, split_lines
from maildrift.postfix.maincf import MainCf, parse_main_cf
from tests.edit.test_restore_real import expected_after
from tests.postfix import realpostconf
from tests.realtools import require_tool

NAMES = [
    "myhostname",
    "mydomain",
    "relayhost",
    "smtpd_banner",
    "smtpd_sasl_security_options",
    "smtpd_tls_auth_only",
]
#: ``$`` makes expansions; postconf dies (after a one-second pause) on a bad one.
_ALPHABET = "abcxyz019.,:/-_[]$"
_SPACE = st.sampled_from(["", " ", "  ", "\t", " \t "])
_FILLER = st.sampled_from(["", "   ", "# comment", "  # indented comment", "#"])


@st.composite
def main_cf_texts(draw, alphabet: str = _ALPHABET) -> str:
    word = st.text(alphabet=alphabet, min_size=1, max_size=6)
    lines: list[str] = []
    for _ in range(draw(st.integers(0, 7))):
        if draw(st.integers(0, 4)) == 0:
            lines.append(draw(_FILLER))
            continue
        name = draw(st.sampled_from(NAMES))
        words = " ".join(draw(st.lists(word, max_size=3)))
        lines.append(f"{name}{draw(_SPACE)}={draw(_SPACE)}{words}{draw(_SPACE)}")
        for _ in range(draw(st.integers(0, 2))):
            if draw(st.booleans()):
                lines.append(draw(_FILLER))
            lines.append(f"{draw(st.sampled_from([' ', '    ', chr(9)]))}{draw(word)}")
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines)
    if lines and draw(st.integers(0, 3)):
        text += newline
    return text


def _values(cf: MainCf) -> dict[str, str]:
    return {name: a.value_raw for name, a in cf.effective().items()}


def _spans(cf: MainCf, names, effective_only: bool) -> set[int]:
    """Physical line numbers of the assignments of ``names``."""
    lines: set[int] = set()
    for assignment in cf.assignments:
        if assignment.name not in names:
            continue
        if effective_only and cf.get(assignment.name) is not assignment:
            continue
        lines.update(range(assignment.line, assignment.end_line + 1))
    return lines


def _outside(text: str, skip: set[int]) -> list[str]:
    kept = [body(line) for n, line in enumerate(split_lines(text), 1) if n not in skip]
    return kept


@settings(max_examples=200, deadline=None)
@given(main_cf_texts(), main_cf_texts(), st.lists(st.sampled_from(NAMES), unique=True))
def test_restore_changes_exactly_the_restored_names(lkg_text, current_text, names):
    lkg, current = parse_main_cf(lkg_text, "m"), parse_main_cf(current_text, "m")
    result_text = restore_maincf(current_text, lkg_text, names, "m")
    result = parse_main_cf(result_text, "m")

    expected = {n: v for n, v in _values(current).items() if n not in names}
    expected.update({n: v for n, v in _values(lkg).items() if n in names})
    assert _values(result) == expected

    todo = [n for n in names if _values(lkg).get(n) != _values(current).get(n)]
    if not todo:
        assert result_text == current_text
        return
    set_names = {n for n in todo if lkg.get(n) is not None}
    unset_names = set(todo) - set_names
    touched = _spans(current, set_names, True) | _spans(current, unset_names, False)
    inserted = _spans(result, set_names, True)
    assert _outside(result_text, inserted) == _outside(current_text, touched)
    for name in set_names:
        # The LKG's own lines, byte for byte (the last one may have gained a newline).
        new = result.get(name)
        old = lkg.get(name)
        assert new is not None and old is not None
        result_lines = split_lines(result_text)[new.line - 1 : new.end_line]
        lkg_lines = split_lines(lkg_text)[old.line - 1 : old.end_line]
        assert [body(x) for x in result_lines] == [body(x) for x in lkg_lines]
        # Earlier, shadowed assignments stay exactly as they were.
        assert [a.value_raw for a in result.shadowed(name)] == [
            a.value_raw for a in current.shadowed(name)
        ]


def _postconf_n(postconf: str, text: str) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as directory:
        for name, body_text in (("main.cf", text), ("master.cf", "")):
            path = os.path.join(directory, name)
            with open(path, "w", encoding="utf-8", newline="") as handle:
                handle.write(body_text)
            os.utime(path, (0, 0))
        values, _stderr = realpostconf.run(postconf, directory, "-n")
    values.pop("config_directory", None)
    return values


@pytest.mark.real
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    main_cf_texts(_ALPHABET[:-1]),
    main_cf_texts(_ALPHABET[:-1]),
    st.lists(st.sampled_from(NAMES), unique=True),
)
def test_postconf_agrees_on_generated_restores(lkg_text, current_text, names):
    postconf = require_tool("postconf")
    result_text = restore_maincf(current_text, lkg_text, names, "main.cf")
    lkg = _postconf_n(postconf, lkg_text)
    current = _postconf_n(postconf, current_text)
    assert _postconf_n(postconf, result_text) == expected_after(current, lkg, set(names))
