"""Loading through a TreeReader: include resolution, the file list, and bad input."""

from __future__ import annotations

import errno
import os

import pytest

from maildrift.dovecot import load_dovecot
from maildrift.dovecot.loader import MAX_INCLUDE_DEPTH
from maildrift.errors import ConfigError
from maildrift.filestore import TreeReader

MAIN = "/etc/dovecot/dovecot.conf"


def tree(root, files: dict[str, str | bytes]) -> TreeReader:
    for path, content in files.items():
        host = root / path.lstrip("/")
        host.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            host.write_bytes(content)
        else:
            host.write_text(content)
    return TreeReader(str(root))


def test_includes_outside_etc_dovecot_are_followed_and_listed(tmp_path):
    """An absolute include elsewhere is read under --root and listed with both paths."""
    reader = tree(
        tmp_path,
        {MAIN: "!include /opt/mail/*.conf\n", "/opt/mail/extra.conf": "ssl = required\n"},
    )
    cfg = load_dovecot(MAIN, reader)
    assert cfg.get("ssl").file == "/opt/mail/extra.conf"
    entry = next(f for f in cfg.files if f.role == "include")
    assert entry.path == "/opt/mail/extra.conf"
    assert entry.read_path == str(tmp_path / "opt/mail/extra.conf")
    assert cfg.files[0].role == "main" and cfg.files[0].read_path == str(tmp_path / MAIN[1:])
    assert cfg.include_globs[0].matches == ("/opt/mail/extra.conf",)


def test_include_glob_matching_nothing_is_fatal_at_its_line(tmp_path):
    """A plain !include whose glob matches nothing raises naming file:line."""
    reader = tree(tmp_path, {MAIN: "ssl = no\n!include conf.d/*.conf\n"})
    with pytest.raises(ConfigError) as info:
        load_dovecot(MAIN, reader)
    assert (info.value.file, info.value.line) == (MAIN, 2)
    assert "No matches" in info.value.message


def test_include_cycle_names_the_including_line(tmp_path):
    """A file that includes its includer raises Recursive include at the directive."""
    reader = tree(
        tmp_path,
        {MAIN: "!include conf.d/a.conf\n", "/etc/dovecot/conf.d/a.conf": "\n!include ../*.conf\n"},
    )
    with pytest.raises(ConfigError) as info:
        load_dovecot(MAIN, reader)
    assert info.value.file == "/etc/dovecot/conf.d/a.conf"
    assert info.value.line == 2
    assert "Recursive include" in info.value.message


def test_self_include_through_a_symlink_is_a_cycle(tmp_path):
    """A loop spelled through a symlink is caught by real path, not only by name."""
    reader = tree(tmp_path, {MAIN: "!include_try conf.d/*.conf\n"})
    (tmp_path / "etc/dovecot/conf.d").mkdir()
    os.symlink("../dovecot.conf", tmp_path / "etc/dovecot/conf.d/loop.conf")
    with pytest.raises(ConfigError, match="Recursive include"):
        load_dovecot(MAIN, reader)


def test_same_file_twice_in_sequence_is_not_a_cycle(tmp_path):
    """Including one file twice, one after the other, is allowed."""
    reader = tree(
        tmp_path,
        {MAIN: "!include a.conf\n!include a.conf\n", "/etc/dovecot/a.conf": "ssl = no\n"},
    )
    cfg = load_dovecot(MAIN, reader)
    assert [s.file for s in cfg.root.history] == ["/etc/dovecot/a.conf"] * 2
    assert [f.role for f in cfg.files] == ["main", "include"]


def test_deep_nesting_is_bounded(tmp_path):
    """Includes nested past the limit raise instead of recursing forever."""
    files = {MAIN: "!include d0.conf\n"}
    for i in range(MAX_INCLUDE_DEPTH + 2):
        files[f"/etc/dovecot/d{i}.conf"] = f"!include d{i + 1}.conf\n"
    files[f"/etc/dovecot/d{MAX_INCLUDE_DEPTH + 2}.conf"] = "ssl = no\n"
    with pytest.raises(ConfigError, match="nested deeper"):
        load_dovecot(MAIN, tree(tmp_path, files))


def test_missing_main_file_names_it(tmp_path):
    """A missing dovecot.conf raises naming the configured path."""
    with pytest.raises(ConfigError) as info:
        load_dovecot(MAIN, TreeReader(str(tmp_path)))
    assert info.value.file == MAIN
    assert "no such file" in info.value.message


def test_binary_include_is_refused_with_its_name(tmp_path):
    """A NUL byte in an included file refuses it, naming the file and line."""
    reader = tree(tmp_path, {MAIN: "!include bin.conf\n", "/etc/dovecot/bin.conf": b"a=1\n\x00"})
    with pytest.raises(ConfigError) as info:
        load_dovecot(MAIN, reader)
    assert (info.value.file, info.value.line) == ("/etc/dovecot/bin.conf", 2)
    assert "binary" in info.value.message


def test_too_large_file_is_refused(tmp_path):
    """A file over the reader's size limit raises naming it."""
    tree(tmp_path, {MAIN: "ssl = no\n" * 100})
    reader = TreeReader(str(tmp_path), max_size=64)
    with pytest.raises(ConfigError) as info:
        load_dovecot(MAIN, reader)
    assert info.value.file == MAIN and "too large" in info.value.message


def test_unreadable_include_is_refused(tmp_path, monkeypatch):
    """An include that cannot be opened (EACCES) raises naming it and the including line."""
    reader = tree(tmp_path, {MAIN: "\n!include secret.conf\n", "/etc/dovecot/secret.conf": "x=1\n"})
    secret = str(tmp_path / "etc/dovecot/secret.conf")
    real_open = os.open

    def denying_open(path, *args, **kwargs):
        # Root reads anything, so the refusal is simulated where the reader opens.
        if str(path) == secret:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("maildrift.filestore.os.open", denying_open)
    with pytest.raises(ConfigError) as info:
        load_dovecot(MAIN, reader)
    assert info.value.file == "/etc/dovecot/secret.conf"
    assert "permission denied" in info.value.message
    assert f"included from {MAIN}:2" in info.value.message


def test_symlink_loop_in_a_plain_include_is_refused(tmp_path):
    """A symlink loop named by !include raises naming it."""
    reader = tree(tmp_path, {MAIN: "!include loop.conf\n"})
    os.symlink("loop.conf", tmp_path / "etc/dovecot/loop.conf")
    with pytest.raises(ConfigError) as info:
        load_dovecot(MAIN, reader)
    assert info.value.file == "/etc/dovecot/loop.conf"
    assert "symlink loop" in info.value.message


def test_symlink_loop_under_include_try_is_skipped_like_doveconf(tmp_path):
    """doveconf's !include_try skips a file it cannot open; so does the loader."""
    reader = tree(tmp_path, {MAIN: "!include_try loop.conf\nssl = no\n"})
    os.symlink("loop.conf", tmp_path / "etc/dovecot/loop.conf")
    cfg = load_dovecot(MAIN, reader)
    assert [f.role for f in cfg.files] == ["main", "include_try-missing"]


def test_fifo_include_is_refused_without_hanging(tmp_path):
    """A FIFO matched by an include raises instead of blocking on it."""
    reader = tree(tmp_path, {MAIN: "!include_try conf.d/*.conf\n"})
    (tmp_path / "etc/dovecot/conf.d").mkdir()
    os.mkfifo(tmp_path / "etc/dovecot/conf.d/pipe.conf")
    with pytest.raises(ConfigError) as info:
        load_dovecot(MAIN, reader)
    assert info.value.file == "/etc/dovecot/conf.d/pipe.conf"
    assert "FIFO" in info.value.message


def test_directory_matched_by_a_glob_is_skipped_with_a_warning(tmp_path):
    """doveconf reads a directory as empty; the loader skips it and says so."""
    reader = tree(tmp_path, {MAIN: "!include conf.d/*\n", "/etc/dovecot/conf.d/a": "ssl = no\n"})
    (tmp_path / "etc/dovecot/conf.d/sub").mkdir()
    cfg = load_dovecot(MAIN, reader)
    assert cfg.get("ssl").value == "no"
    assert any("directory" in w.message for w in cfg.warnings)


def test_candidate_file_replaces_the_configured_one(tmp_path):
    """TreeReader candidates let a proposed file be judged before it is installed."""
    tree(tmp_path, {MAIN: "ssl = no\n", "/proposal.conf": "ssl = required\n"})
    reader = TreeReader(str(tmp_path), candidates={MAIN: str(tmp_path / "proposal.conf")})
    cfg = load_dovecot(MAIN, reader)
    assert cfg.get("ssl").value == "required"
    assert cfg.files[0].read_path == str(tmp_path / "proposal.conf")


def test_unclosed_section_in_an_include_names_where_it_started(tmp_path):
    """Braces may span files, but one never closed is fatal at its opening line."""
    reader = tree(tmp_path, {MAIN: "!include a.conf\n", "/etc/dovecot/a.conf": "\nservice x {\n"})
    with pytest.raises(ConfigError) as info:
        load_dovecot(MAIN, reader)
    assert (info.value.file, info.value.line) == ("/etc/dovecot/a.conf", 2)
