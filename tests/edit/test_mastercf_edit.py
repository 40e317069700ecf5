"""master.cf surgery: byte-exact results of set_override / remove_override."""

from __future__ import annotations

import pytest

from maildrift.edit.mastercf_edit import (
    format_override,
    override_text,
    remove_override,
    set_override,
)
from maildrift.edit.surgery import SurgeryImpossible
from maildrift.postfix.mastercf import parse_master_cf

MASTER = (
    "smtp      inet  n       -       y       -       -       smtpd\n"
    "# the submission port\n"
    "submission inet n       -       y       -       -       smtpd\n"
    "\t-o syslog_name=postfix/submission\n"
    "\t-o { smtpd_sasl_security_options = noanonymous, noplaintext }\n"
    "\t-o smtpd_tls_auth_only=yes   -o smtpd_tls_security_level=encrypt\n"
    "# after submission\n"
    "pickup    unix  n       -       y       60      1       pickup\n"
)


def test_token_positions_locate_every_word():
    text = "relay unix - - y - - smtp\n  -o a=1 -o {\n# c\n   b = 2 }\n"
    service = parse_master_cf(text, "master.cf").services[0]
    lines = text.split("\n")
    for token in service.args:
        if token.line == token.end_line:
            assert lines[token.line - 1][token.column : token.end_column] == token.text
    brace = service.args[3]
    assert (brace.line, brace.column, brace.end_line, brace.end_column) == (2, 12, 4, 10)
    assert [o.option.column for o in service.overrides] == [2, 9]
    assert service.options_end == 4


def test_replace_short_form_in_place():
    out = set_override(MASTER, "submission/inet", "smtpd_tls_auth_only", "no")
    assert out == MASTER.replace("smtpd_tls_auth_only=yes   -o", "smtpd_tls_auth_only=no   -o")


def test_replace_long_form_keeps_long_form():
    out = set_override(MASTER, "submission/inet", "smtpd_sasl_security_options", "noanonymous")
    assert out == MASTER.replace(
        "{ smtpd_sasl_security_options = noanonymous, noplaintext }",
        "{ smtpd_sasl_security_options = noanonymous }",
    )


def test_value_with_white_space_needs_the_long_form():
    out = set_override(MASTER, "submission/inet", "syslog_name", "a b")
    assert out == MASTER.replace("syslog_name=postfix/submission", "{ syslog_name = a b }")


def test_written_word_is_used_verbatim():
    out = set_override(
        MASTER, "submission/inet", "syslog_name", "x", written="{syslog_name   =   x}"
    )
    assert out == MASTER.replace("syslog_name=postfix/submission", "{syslog_name   =   x}")
    with pytest.raises(ValueError):
        set_override(MASTER, "submission/inet", "syslog_name", "x", written="syslog_name=y")


def test_new_override_goes_after_the_entry_with_its_indentation():
    out = set_override(MASTER, "submission/inet", "smtpd_sasl_auth_enable", "yes")
    assert out == MASTER.replace(
        "encrypt\n# after submission\n",
        "encrypt\n\t-o smtpd_sasl_auth_enable=yes\n# after submission\n",
    )
    out = set_override(MASTER, "smtp/inet", "smtpd_tls_security_level", "may")
    assert out == MASTER.replace(
        "smtpd\n# the submission",
        "smtpd\n  -o smtpd_tls_security_level=may\n# the submission",
    )


def test_new_override_at_the_end_of_a_file_without_final_newline():
    text = "smtp inet n - y - - smtpd\r\n  -o a=1"
    assert set_override(text, "smtp/inet", "b", "2") == text + "\n  -o b=2"
    text = "smtp inet n - y - - smtpd\r\n  -o a=1\r\n"
    assert set_override(text, "smtp/inet", "b", "2") == text + "  -o b=2\r\n"


def test_new_override_goes_before_the_commands_own_arguments():
    text = "x unix - n n - - pipe\n  -o a=1 flags=R\n  user=x argv=/bin/x ${recipient}\n"
    assert set_override(text, "x/unix", "b", "2") == (
        "x unix - n n - - pipe\n  -o a=1 -o b=2 flags=R\n  user=x argv=/bin/x ${recipient}\n"
    )
    text = "x unix - n n - - pipe\n  -o a=1\n  flags=R user=x argv=/bin/x\n"
    assert set_override(text, "x/unix", "b", "2") == (
        "x unix - n n - - pipe\n  -o a=1\n  -o b=2\n  flags=R user=x argv=/bin/x\n"
    )
    text = "x unix - n n - - pipe flags=R argv=/bin/x\n"
    assert set_override(text, "x/unix", "b", "2") == (
        "x unix - n n - - pipe -o b=2 flags=R argv=/bin/x\n"
    )


def test_the_effective_entry_is_edited():
    text = "smtp inet n - y - - smtpd\n  -o a=1\nsmtp inet n - y - - smtpd\n  -o a=2\n"
    assert set_override(text, "smtp/inet", "a", "3") == text.replace("a=2", "a=3")
    assert remove_override(text, "smtp/inet", "a") == (
        "smtp inet n - y - - smtpd\n  -o a=1\nsmtp inet n - y - - smtpd\n"
    )


def test_the_last_of_duplicate_overrides_is_replaced():
    text = "smtp inet n - y - - smtpd -o a=1\n  -o a=2\n"
    assert set_override(text, "smtp/inet", "a", "3") == text.replace("a=2", "a=3")


def test_remove_drops_a_line_that_held_only_the_override():
    out = remove_override(MASTER, "submission/inet", "smtpd_sasl_security_options")
    assert out == MASTER.replace(
        "\t-o { smtpd_sasl_security_options = noanonymous, noplaintext }\n", ""
    )


def test_remove_inside_a_line():
    out = remove_override(MASTER, "submission/inet", "smtpd_tls_auth_only")
    assert out == MASTER.replace("smtpd_tls_auth_only=yes   -o ", "")
    out = remove_override(MASTER, "submission/inet", "smtpd_tls_security_level")
    assert out == MASTER.replace("   -o smtpd_tls_security_level=encrypt", "")
    text = "smtp inet n - y - - smtpd -o a=1 -o b=2  \n"
    assert remove_override(text, "smtp/inet", "a") == "smtp inet n - y - - smtpd -o b=2  \n"


def test_remove_every_duplicate_and_split_words():
    text = "smtp inet n - y - - smtpd -o a=1\n  -o\n    a=2\n  -o b=3\n"
    assert remove_override(text, "smtp/inet", "a") == "smtp inet n - y - - smtpd\n  -o b=3\n"
    text = "smtp inet n - y - - smtpd\r\n  -o {a =\r\n   1 }\r\n  -o b=3\r\n"
    assert remove_override(text, "smtp/inet", "a") == "smtp inet n - y - - smtpd\r\n  -o b=3\r\n"
    assert remove_override(text, "smtp/inet", "zzz") == text


def test_override_text_is_the_word_as_written():
    assert override_text(MASTER, "submission/inet", "smtpd_sasl_security_options") == (
        "{ smtpd_sasl_security_options = noanonymous, noplaintext }"
    )
    assert override_text(MASTER, "submission/inet", "nothing") is None
    assert override_text(MASTER, "gone/unix", "a") is None


def test_a_missing_entry_is_refused():
    with pytest.raises(SurgeryImpossible, match="no gone/inet entry"):
        set_override(MASTER, "gone/inet", "a", "1")
    with pytest.raises(SurgeryImpossible):
        remove_override(MASTER, "gone/inet", "a")
    with pytest.raises(SurgeryImpossible, match="does not parse"):
        set_override("smtp inet n - y - -\n", "smtp/inet", "a", "1")


def test_an_entry_with_an_unbalanced_brace_is_refused():
    text = "smtp inet n - y - - smtpd -o {a = 1\n"
    with pytest.raises(SurgeryImpossible, match="missing"):
        set_override(text, "smtp/inet", "b", "1")


@pytest.mark.parametrize("value", ["{", "a{b", " lead", "x\ny"])
def test_values_master_cf_cannot_hold(value):
    with pytest.raises(ValueError):
        format_override("name", value)


def test_a_closing_brace_alone_is_an_ordinary_character():
    # postconf -P prints "submission/inet/smtpd_banner = a}" for "-o smtpd_banner=a}".
    assert format_override("smtpd_banner", "a}") == "smtpd_banner=a}"
