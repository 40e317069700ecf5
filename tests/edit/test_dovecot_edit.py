"""Dovecot surgery: byte-exact results of set_setting / remove_setting."""

from __future__ import annotations

import pytest

from maildrift.edit.dovecot_edit import remove_setting, set_setting, setting_lines
from maildrift.edit.surgery import SurgeryImpossible

LISTENER = ("unix_listener", "/var/spool/postfix/private/auth")
AUTH = (("service", "auth"),)

CONF = (
    "# global\n"
    "auth_mechanisms = plain login   # both\n"
    "ssl_cert = </etc/pki/dovecot/certs/dovecot.pem\n"
    "service auth {\n"
    "\tunix_listener /var/spool/postfix/private/auth {\n"
    "\t\tmode = 0666\n"
    '\t\tuser = "postfix"\n'
    "\t}\n"
    "}\n"
    "protocol imap {\n"
    "  mail_plugins = $mail_plugins \\\n"
    "    imap_quota\n"
    "}\n"
)


def test_value_columns_are_replaced_and_the_comment_stays():
    out = set_setting(CONF, "d.conf", (), "auth_mechanisms", "plain")
    assert out == CONF.replace("plain login   # both", "plain   # both")


def test_nested_section_value():
    out = set_setting(CONF, "d.conf", (*AUTH, LISTENER), "mode", "0660")
    assert out == CONF.replace("mode = 0666", "mode = 0660")
    out = set_setting(CONF, "d.conf", (*AUTH, LISTENER), "user", '"dovecot"')
    assert out == CONF.replace('"postfix"', '"dovecot"')


def test_file_and_variable_forms_are_replaced_whole():
    out = set_setting(CONF, "d.conf", (), "ssl_cert", "</etc/ssl/x.pem")
    assert out == CONF.replace("</etc/pki/dovecot/certs/dovecot.pem", "</etc/ssl/x.pem")


def test_a_continued_setting_is_rewritten_on_one_line():
    out = set_setting(CONF, "d.conf", (("protocol", "imap"),), "mail_plugins", "$mail_plugins")
    assert out == CONF.replace(
        "  mail_plugins = $mail_plugins \\\n    imap_quota\n", "  mail_plugins = $mail_plugins\n"
    )


def test_raw_lines_come_back_verbatim():
    path = (("protocol", "imap"),)
    lines = setting_lines(CONF, "d.conf", path, "mail_plugins")
    assert lines == ("  mail_plugins = $mail_plugins \\", "    imap_quota")
    changed = set_setting(CONF, "d.conf", path, "mail_plugins", "quota")
    assert set_setting(changed, "d.conf", path, "mail_plugins", lines) == CONF
    removed = remove_setting(CONF, "d.conf", path, "mail_plugins")
    assert set_setting(removed, "d.conf", path, "mail_plugins", lines) == CONF


def test_insert_before_the_closing_brace_with_the_siblings_indentation():
    out = set_setting(CONF, "d.conf", (*AUTH, LISTENER), "group", "postfix")
    assert out == CONF.replace('"postfix"\n\t}', '"postfix"\n\t\tgroup = postfix\n\t}')
    out = set_setting(CONF, "d.conf", AUTH, "user", "root")
    assert out == CONF.replace("\t}\n}\nprotocol", "\t}\n\tuser = root\n}\nprotocol")


def test_insert_into_an_empty_section_and_at_the_top_level():
    text = "service imap-login {\r\n  inet_listener imaps {\r\n  }\r\n}\r\n"
    path = (("service", "imap-login"), ("inet_listener", "imaps"))
    assert set_setting(text, "d.conf", path, "port", "993") == (
        "service imap-login {\r\n  inet_listener imaps {\r\n    port = 993\r\n  }\r\n}\r\n"
    )
    assert set_setting(text, "d.conf", (), "ssl", "required") == text + "ssl = required\r\n"
    assert set_setting("a = 1", "d.conf", (), "b", "2") == "a = 1\nb = 2\n"


def test_a_section_written_twice_gets_the_new_setting_in_its_last_block():
    text = "service auth {\n  user = a\n}\nservice auth {\n  group = b\n}\n"
    out = set_setting(text, "d.conf", AUTH, "client_limit", "1")
    assert out == text.replace("group = b\n", "group = b\n  client_limit = 1\n")
    assert set_setting(text, "d.conf", AUTH, "user", "c") == text.replace("user = a", "user = c")


def test_remove_every_assignment_under_the_path():
    text = "a = 1\nservice auth {\n  a = 2\n}\na = 3 \\\n 4\nb = 5\n"
    assert remove_setting(text, "d.conf", (), "a") == "service auth {\n  a = 2\n}\nb = 5\n"
    assert (
        remove_setting(text, "d.conf", AUTH, "a")
        == "a = 1\nservice auth {\n}\na = 3 \\\n 4\nb = 5\n"
    )
    assert remove_setting(text, "d.conf", AUTH, "zzz") == text


def test_a_missing_section_is_refused():
    with pytest.raises(SurgeryImpossible, match="service lmtp is not in this file"):
        set_setting(CONF, "d.conf", (("service", "lmtp"),), "user", "x")
    with pytest.raises(SurgeryImpossible):
        remove_setting(CONF, "d.conf", (("service", "lmtp"),), "user")


@pytest.mark.parametrize(
    "text",
    [
        "service submission-login {\n  process_min_avail = 1\n",  # closed in another file
        "  process_limit = 10\n}\n",  # closes a section opened in another file
    ],
)
def test_braces_that_balance_only_across_files_are_refused(text):
    with pytest.raises(SurgeryImpossible, match="another file"):
        set_setting(text, "d.conf", (), "x", "1")


def test_unnamed_list_items_are_ambiguous_in_2_3():
    text = "passdb {\n  driver = pam\n}\npassdb {\n  driver = passwd-file\n}\n"
    with pytest.raises(SurgeryImpossible, match="not unique"):
        set_setting(text, "d.conf", (("passdb", None),), "driver", "pam")
    text = "plugin {\n  a = 1\n}\nplugin {\n  b = 2\n}\n"
    out = set_setting(text, "d.conf", (("plugin", None),), "a", "3")
    assert out == text.replace("a = 1", "a = 3")


def test_unlexable_text_is_refused():
    with pytest.raises(SurgeryImpossible, match="does not parse"):
        set_setting("service auth {}\n", "d.conf", (), "a", "1")


def test_a_value_that_would_not_be_the_value_is_refused():
    with pytest.raises(SurgeryImpossible, match="would not take effect"):
        # The quote would swallow the line's trailing comment.
        set_setting(CONF, "d.conf", (), "auth_mechanisms", '"plain')
    with pytest.raises(ValueError):
        set_setting(CONF, "d.conf", (), "auth_mechanisms", "a\nb = c")
    with pytest.raises(ValueError):
        set_setting(CONF, "d.conf", (), "auth_mechanisms", ["other = 1"])


def test_a_file_ending_in_a_continuation_gets_no_appended_line():
    with pytest.raises(SurgeryImpossible, match="continuation"):
        set_setting("a = 1\nb = 2 \\", "d.conf", (), "c", "3")
