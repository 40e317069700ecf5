"""Generated dovecot.conf text: the parser fails only with ConfigError, and says where."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from maildrift.dovecot import parse_dovecot, to_json
from maildrift.errors import ConfigError

PATH = "/etc/dovecot/dovecot.conf"

_word = st.sampled_from(
    [
        "ssl",
        "mode",
        "service",
        "auth",
        "protocol",
        "imap",
        "remote",
        "local",
        "local_name",
        "10.0.0.0/8",
        "::1",
        "passdb",
        "plugin",
        "unix_listener",
        "$ssl",
        "$SET:ssl",
        "<x.pem",
        "!include",
        "!include_try",
        "dovecot_config_version",
        "#",
        "{",
        "}",
        "=",
        "\\",
        '"',
        "'",
        "\t",
        " ",
        "0660",
        "660",
        "!imap",
        "namespace",
        "inbox",
        "mailbox",
        "a b",
    ]
)
_line = st.lists(_word, max_size=6).map("".join) | st.text(max_size=30)
_text = st.lists(_line, max_size=25).map(lambda lines: "\n".join(lines))
_contexts = st.fixed_dictionaries(
    {
        "protocol": st.sampled_from([None, "imap", "pop3"]),
        "remote": st.sampled_from([None, "10.1.2.3", "::1"]),
    }
)


@settings(max_examples=200, deadline=None)
@given(text=_text, context=_contexts)
def test_parser_raises_only_config_error_with_file_and_line(text, context):
    """Whatever the text, parsing either succeeds or raises ConfigError naming file and line."""
    try:
        cfg = parse_dovecot(text, PATH)
    except ConfigError as exc:
        assert exc.file is not None
        assert exc.line is not None and exc.line >= 1
        return
    to_json(cfg)
    for scope in cfg.scopes:
        for name in cfg.scope_settings(scope):
            try:
                cfg.effective(name, **context)
            except ConfigError as exc:
                assert "Conflict in setting" in exc.message and exc.line is not None


@settings(max_examples=200, deadline=None)
@given(text=_text)
def test_every_parsed_setting_points_at_its_line(text):
    """Each parsed setting's raw line is the physical line its line number names."""
    try:
        cfg = parse_dovecot(text, PATH)
    except ConfigError:
        return
    physical = text.split("\n")
    for section in cfg.root.walk():
        for setting in section.history:
            assert physical[setting.line - 1] == setting.raw_lines[0]
            if setting.value_start is not None:
                assert setting.raw_lines[0][setting.value_start : setting.value_end] == (
                    setting.written
                )
