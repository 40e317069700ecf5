"""Bad input gets one clear message naming file and line, exit code 2, no traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

DEMO = os.path.join(os.path.dirname(os.path.dirname(__file__)), "demo")


def _tree(tmp_path) -> str:
    root = tmp_path / "root"
    shutil.copytree(DEMO, root)
    return str(root)


def _run(*args: str, drop_root: bool = False) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "maildrift", *args]
    if drop_root:
        # Root reads any file; without these capabilities it gets EACCES like anyone.
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def _assert_refused(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def _effective_postfix(root: str) -> subprocess.CompletedProcess:
    return _run("effective", "postfix", "--root", root, "--postfix-version", "3.7")


def test_binary_main_cf_is_refused(tmp_path):
    """A main.cf with a NUL byte is refused as binary, naming file and line."""
    root = _tree(tmp_path)
    with open(os.path.join(root, "etc/postfix/main.cf"), "ab") as handle:
        handle.write(b"\nmyhostname = a\x00b\n")
    _assert_refused(_effective_postfix(root), "/etc/postfix/main.cf:", "binary file refused")


def test_huge_main_cf_is_refused(tmp_path):
    """A 100 MB main.cf is refused by the size limit without being read."""
    root = _tree(tmp_path)
    os.truncate(os.path.join(root, "etc/postfix/main.cf"), 100 * 1024 * 1024)
    _assert_refused(_effective_postfix(root), "/etc/postfix/main.cf", "file too large")


def test_symlink_loop_is_refused(tmp_path):
    """A main.cf that is a symlink loop is refused by name."""
    root = _tree(tmp_path)
    path = os.path.join(root, "etc/postfix/main.cf")
    os.unlink(path)
    os.symlink("main.cf.loop", path)
    os.symlink("main.cf", os.path.join(root, "etc/postfix/main.cf.loop"))
    _assert_refused(_effective_postfix(root), "/etc/postfix/main.cf", "symlink loop")


def test_fifo_is_refused_without_hanging(tmp_path):
    """A FIFO where master.cf should be is refused at once."""
    root = _tree(tmp_path)
    path = os.path.join(root, "etc/postfix/master.cf")
    os.unlink(path)
    os.mkfifo(path)
    _assert_refused(_effective_postfix(root), "/etc/postfix/master.cf", "not a regular file")


def test_missing_main_cf_is_refused(tmp_path):
    """A missing main.cf is refused by name."""
    root = _tree(tmp_path)
    os.unlink(os.path.join(root, "etc/postfix/main.cf"))
    _assert_refused(_effective_postfix(root), "/etc/postfix/main.cf", "no such file")


def test_unreadable_main_cf_is_refused(tmp_path):
    """A main.cf the running user may not read is refused by name."""
    is_root = os.geteuid() == 0
    if is_root and shutil.which("setpriv") is None:
        pytest.skip("needs setpriv to drop root's file capabilities")
    root = _tree(tmp_path)
    os.chmod(os.path.join(root, "etc/postfix/main.cf"), 0o000)
    args = ("effective", "postfix", "--root", root, "--postfix-version", "3.7")
    proc = _run(*args, drop_root=is_root)
    _assert_refused(proc, "/etc/postfix/main.cf", "permission denied")


def test_syntax_error_names_line(tmp_path):
    """A main.cf line without '=' is refused with its line number, as postconf does."""
    root = _tree(tmp_path)
    path = os.path.join(root, "etc/postfix/main.cf")
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("this line has no equals sign\n")
    with open(path, encoding="utf-8") as handle:
        line = handle.read().count("\n")
    _assert_refused(_effective_postfix(root), f"/etc/postfix/main.cf:{line}:", "missing '='")


def test_bad_master_cf_field_names_line(tmp_path):
    """An invalid master.cf type field is refused with its line number."""
    root = _tree(tmp_path)
    with open(os.path.join(root, "etc/postfix/master.cf"), "a", encoding="utf-8") as handle:
        handle.write("extra     bogus  n       -       n       -       -       smtpd\n")
    _assert_refused(_effective_postfix(root), "/etc/postfix/master.cf:38:", "invalid type field")


def test_latin1_comment_is_accepted(tmp_path):
    """Latin-1 text in a comment is not binary."""
    root = _tree(tmp_path)
    with open(os.path.join(root, "etc/postfix/main.cf"), "ab") as handle:
        handle.write(b"# R\xe9sum\xe9 of the mail server\n")
    proc = _effective_postfix(root)
    assert proc.returncode == 0, proc.stderr
    assert "myhostname = mail.example.com" in proc.stdout
