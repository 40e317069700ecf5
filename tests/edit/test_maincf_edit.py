"""main.cf surgery: byte-exact results of set_param / unset_param."""

from __future__ import annotations

import pytest

from maildrift.edit.maincf_edit import assignment_lines, set_param, unset_param
from maildrift.edit.surgery import SurgeryImpossible

MULTI = (
    "# head comment\n"
    "myhostname = old.example.com\n"
    "smtpd_sasl_security_options = noanonymous,\n"
    "# inside the continuation\n"
    "\n"
    "    noplaintext\n"
    "# after the assignment\n"
    "myhostname = mx.example.com   \n"
    "relayhost =\n"
)


def test_set_replaces_only_the_effective_assignment():
    out = set_param(MULTI, "myhostname", "new.example.com")
    assert out == (
        "# head comment\n"
        "myhostname = old.example.com\n"
        "smtpd_sasl_security_options = noanonymous,\n"
        "# inside the continuation\n"
        "\n"
        "    noplaintext\n"
        "# after the assignment\n"
        "myhostname = new.example.com\n"
        "relayhost =\n"
    )


def test_set_replaces_a_continued_assignment_with_its_comments_but_not_the_next_comment():
    out = set_param(MULTI, "smtpd_sasl_security_options", "noanonymous")
    assert out == (
        "# head comment\n"
        "myhostname = old.example.com\n"
        "smtpd_sasl_security_options = noanonymous\n"
        "# after the assignment\n"
        "myhostname = mx.example.com   \n"
        "relayhost =\n"
    )


def test_set_with_raw_lines_brings_them_back_exactly():
    lkg_lines = (
        "smtpd_sasl_security_options = noanonymous,",
        "\t# keep plaintext off  ",
        "  noplaintext  ",
    )
    text = "smtpd_sasl_security_options = noanonymous\nmyhostname = x\n"
    out = set_param(text, "smtpd_sasl_security_options", lkg_lines)
    assert out == (
        "smtpd_sasl_security_options = noanonymous,\n"
        "\t# keep plaintext off  \n"
        "  noplaintext  \n"
        "myhostname = x\n"
    )
    assert assignment_lines(out, "smtpd_sasl_security_options") == lkg_lines


def test_set_appends_a_missing_name():
    assert set_param("a = 1\n", "b", "2") == "a = 1\nb = 2\n"
    assert set_param("a = 1", "b", "2") == "a = 1\nb = 2\n"
    assert set_param("", "b", "2") == "b = 2\n"
    assert set_param("a = 1\n# tail\n", "b", "") == "a = 1\n# tail\nb =\n"
    assert set_param("a = 1\n  cont\n", "b", ["b = x", " y"]) == "a = 1\n  cont\nb = x\n y\n"


def test_set_keeps_crlf_and_a_missing_final_newline():
    text = "a = 1\r\nb = 2\r\nc = 3"
    assert set_param(text, "b", "two") == "a = 1\r\nb = two\r\nc = 3"
    assert set_param(text, "c", "three") == "a = 1\r\nb = 2\r\nc = three"
    assert set_param("a = 1\r\n", "z", "9") == "a = 1\r\nz = 9\r\n"
    assert set_param("a = 1\nb = 2", "b", ["b = 3", " 4"]) == "a = 1\nb = 3\n 4"


def test_unset_removes_every_assignment():
    out = unset_param(MULTI, "myhostname")
    assert out == (
        "# head comment\n"
        "smtpd_sasl_security_options = noanonymous,\n"
        "# inside the continuation\n"
        "\n"
        "    noplaintext\n"
        "# after the assignment\n"
        "relayhost =\n"
    )
    assert unset_param(out, "myhostname") == out


def test_unset_continued_assignment_and_last_line():
    out = unset_param(MULTI, "smtpd_sasl_security_options")
    assert out == (
        "# head comment\n"
        "myhostname = old.example.com\n"
        "# after the assignment\n"
        "myhostname = mx.example.com   \n"
        "relayhost =\n"
    )
    assert unset_param("a = 1\nb = 2", "b") == "a = 1\n"
    assert unset_param("b = 2\r\n  x\r\na = 1", "b") == "a = 1"


@pytest.mark.parametrize("text", ["= x\n", "just words\n", "a = 1\nb\n"])
def test_unparsable_text_is_refused(text):
    with pytest.raises(SurgeryImpossible, match="does not parse"):
        set_param(text, "a", "1")
    with pytest.raises(SurgeryImpossible):
        unset_param(text, "a")


@pytest.mark.parametrize(
    "lines",
    [
        (),
        ("other = 1",),
        ("a = 1", "b = 2"),
        ("  a = 1",),
        ("a = 1", "# trailing comment"),
        ("a = 1\nb = 2",),
    ],
)
def test_bad_new_lines_are_rejected(lines):
    with pytest.raises(ValueError):
        set_param("a = 0\n", "a", lines)


def test_value_with_newline_is_rejected():
    with pytest.raises(ValueError):
        set_param("a = 0\n", "a", "1\nb = 2")
