"""The daemon config's enforce: section: defaults, full config, strict keys, types, file:line."""

from __future__ import annotations

import pytest

from maildrift.cli import _parser
from maildrift.errors import ConfigError
from maildrift.service import daemon as daemon_module
from maildrift.service.app import run_daemon
from maildrift.service.config import (
    DaemonConfig,
    EnforceConfig,
    FlapSettings,
    QuarantineSettings,
    ReloadCommands,
    ReloadFlags,
    parse_daemon_config,
)

FULL = """\
mode: enforce
enforce:
  confirm_ms: 500
  enforce_on_start: true
  remediation: true
  reload: {postfix: false, dovecot: true}
  reload_commands:
    postfix: [postfix, -c, /etc/postfix, reload]
    dovecot: [doveadm, reload]
  reload_timeout_s: 12.5
  validate: false
  validate_timeout_s: 3
  flap: {max_reverts: 5, window_s: 300, max_repeats: 2, repeat_window_s: 3600}
  quarantine: {max_entries: 10, max_bytes: 1048576, retention_days: 7}
  pause_cap_s: 3600
"""


def error_for(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_daemon_config(text, "/etc/maildrift/maildrift.yaml")
    return caught.value


def test_defaults_without_an_enforce_section():
    """No enforce: key, an empty one and a null one all give the documented defaults."""
    for text in ("mode: observe\n", "enforce: {}\n", "enforce:\n"):
        enforce = parse_daemon_config(text, "m.yaml").enforce
        assert enforce == EnforceConfig()
    d = EnforceConfig()
    assert (d.confirm_ms, d.enforce_on_start, d.remediation, d.validate) == (
        200,
        False,
        False,
        True,
    )
    assert (d.reload_timeout_s, d.validate_timeout_s, d.pause_cap_s) == (30, 10, 14400)
    assert d.reload == ReloadFlags(postfix=True, dovecot=True)
    assert d.reload_commands.postfix == ("systemctl", "reload", "postfix.service")
    assert d.reload_commands.dovecot == ("systemctl", "reload", "dovecot.service")
    assert d.flap == FlapSettings(3, 600, 3, 86400)
    assert d.quarantine == QuarantineSettings(1000, 67108864, 90)


def test_full_enforce_section_is_read():
    """Every key of a complete section lands in its field, argv lists as tuples."""
    enforce = parse_daemon_config(FULL, "m.yaml").enforce
    assert enforce == EnforceConfig(
        confirm_ms=500,
        enforce_on_start=True,
        remediation=True,
        reload=ReloadFlags(postfix=False, dovecot=True),
        reload_commands=ReloadCommands(
            postfix=("postfix", "-c", "/etc/postfix", "reload"), dovecot=("doveadm", "reload")
        ),
        reload_timeout_s=12.5,
        validate=False,
        validate_timeout_s=3,
        flap=FlapSettings(max_reverts=5, window_s=300, max_repeats=2, repeat_window_s=3600),
        quarantine=QuarantineSettings(max_entries=10, max_bytes=1048576, retention_days=7),
        pause_cap_s=3600,
    )


def test_partial_sub_sections_keep_the_other_defaults():
    """Setting one key of a sub-section leaves its siblings at their defaults."""
    enforce = parse_daemon_config(
        "enforce:\n  reload: {dovecot: false}\n  quarantine: {retention_days: 30}\n", "m.yaml"
    ).enforce
    assert enforce.reload == ReloadFlags(postfix=True, dovecot=False)
    assert enforce.quarantine == QuarantineSettings(retention_days=30)


BAD_VALUES = [
    # (yaml, line of the key, part of the message after "enforce.")
    ("enforce:\n  confirm_ms: soon\n", 2, "confirm_ms must be a whole number, not a string"),
    ("enforce:\n  confirm_ms: 0.5\n", 2, "confirm_ms must be a whole number, not a number"),
    ("enforce:\n  confirm_ms: -1\n", 2, "confirm_ms must be at least 0, not -1"),
    ("enforce:\n  enforce_on_start: 'yes'\n", 2, "enforce_on_start must be true or false, not a"),
    ("enforce:\n  remediation: 1\n", 2, "remediation must be true or false, not an integer"),
    ("enforce:\n  validate: null\n", 2, "validate must be true or false, not null"),
    ("enforce:\n  reload_timeout_s: 0\n", 2, "reload_timeout_s must be more than 0, not 0"),
    ("enforce:\n  validate_timeout_s: true\n", 2, "must be a number of seconds, not true/false"),
    ("enforce:\n  pause_cap_s: 4h\n", 2, "pause_cap_s must be a number of seconds, not a string"),
    ("mode: enforce\nenforce:\n  reload:\n    postfix: maybe\n", 4, "reload.postfix must be true"),
    (
        "enforce:\n  reload_commands:\n    postfix: systemctl reload postfix\n",
        3,
        "reload_commands.postfix must be a list of strings such as [systemctl, reload,",
    ),
    ("enforce:\n  reload_commands:\n    dovecot: [doveadm, 5]\n", 3, "dovecot must be a list of"),
    ("enforce:\n  reload_commands:\n    dovecot: []\n", 3, "dovecot must be a list of strings"),
    ("enforce:\n  reload_commands:\n    dovecot: ['', x]\n", 3, "must start with a program name"),
    ("enforce:\n  flap: {max_reverts: 0}\n", 2, "flap.max_reverts must be at least 1, not 0"),
    ("enforce:\n  flap:\n    window_s: -5\n", 3, "flap.window_s must be more than 0, not -5"),
    ("enforce:\n  quarantine:\n    max_bytes: 64MiB\n", 3, "max_bytes must be a whole number"),
    ("enforce:\n  flap: 3\n", 2, "flap must be a mapping, not an integer"),
]


@pytest.mark.parametrize(("text", "line", "message"), BAD_VALUES)
def test_bad_types_name_key_file_and_line(text, line, message):
    """Each wrongly typed or out-of-range value is a ConfigError at its file:line."""
    error = error_for(text)
    assert (error.file, error.line) == ("/etc/maildrift/maildrift.yaml", line)
    assert error.message.startswith("enforce.")
    assert message in error.message
    assert str(error).startswith(f"/etc/maildrift/maildrift.yaml:{line}: ")


UNKNOWN_KEYS = [
    # (yaml, line of the key, the key as named, the suggestion or "")
    ("enforce:\n  confirm: 100\n", 2, "enforce.confirm", "confirm_ms"),
    ("enforce:\n  reload:\n    postfx: false\n", 3, "enforce.reload.postfx", "postfix"),
    ("enforce:\n  flap:\n    max_revert: 2\n", 3, "enforce.flap.max_revert", "max_reverts"),
    (
        "enforce:\n  quarantine: {retention: 3}\n",
        2,
        "enforce.quarantine.retention",
        "retention_days",
    ),
    ("enforce:\n  reload_commands: {exim: [x]}\n", 2, "enforce.reload_commands.exim", ""),
    ("enforcement:\n  confirm_ms: 1\n", None, "enforcement", "enforce"),
]


@pytest.mark.parametrize(("text", "line", "key", "close"), UNKNOWN_KEYS)
def test_unknown_keys_are_refused_with_a_suggestion(text, line, key, close):
    """A misspelt key is an error with did-you-mean, never silently ignored."""
    error = error_for(text)
    assert error.line == line
    suggestion = f" (did you mean {close!r}?)" if close else ""
    assert error.message == f"unknown key {key!r}{suggestion}"


def test_without_reload_turns_off_both_reloads_only():
    """--no-reload's config change sets both reload flags false and keeps everything else."""
    config = parse_daemon_config(FULL, "m.yaml")
    quiet = config.without_reload()
    assert quiet.enforce.reload == ReloadFlags(postfix=False, dovecot=False)
    assert quiet.enforce.reload_commands == config.enforce.reload_commands
    assert quiet.enforce.flap == config.enforce.flap
    assert quiet.mode == "enforce"


def test_run_no_reload_reaches_the_daemon(tmp_path, monkeypatch):
    """maildrift run --no-reload hands the daemon a config whose reload flags are both false."""
    seen = {}

    class FakeDaemon:
        def __init__(self, deps) -> None:
            seen["config"] = deps.config

        def run(self) -> int:
            return 0

    monkeypatch.setattr(daemon_module, "Daemon", FakeDaemon)
    config = tmp_path / "maildrift.yaml"
    config.write_text(f"policy_dir: null\nmetrics: {{listen: none}}\nstate_dir: {tmp_path}\n")
    for flags, expected in (
        ([], ReloadFlags(True, True)),
        (["--no-reload"], ReloadFlags(False, False)),
    ):
        args = _parser().parse_args(
            ["run", "--config", str(config), "--root", str(tmp_path), *flags]
        )
        assert run_daemon(args) == 0
        assert seen["config"].enforce.reload == expected
        assert isinstance(seen["config"], DaemonConfig)
