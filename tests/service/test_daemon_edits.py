"""End to end: each kind of edit flips the scraped verdict of the right rule and scope."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.policy_samples.sampletree import Sample, build_tree
from tests.realtools import require_tool
from tests.service.harness import DaemonProcess, compliant

RULE, SCOPE = "postfix-sasl-security-options", "postfix:submission/inet"
SAFE, UNSAFE = "    noplaintext\n", "    mutual_auth\n"

pytestmark = pytest.mark.services


@pytest.fixture
def daemon(tmp_path):
    """A daemon watching a hardened copy of the demo tree."""
    root = build_tree(Sample("demo"), str(tmp_path / "root"))
    process = DaemonProcess(root, str(tmp_path)).start()
    yield process
    process.stop()


def main_cf(daemon) -> str:
    return os.path.join(daemon.root, "etc/postfix/main.cf")


def unsafe_text(daemon) -> str:
    with open(main_cf(daemon), encoding="utf-8") as handle:
        return handle.read().replace(SAFE, UNSAFE)


def flipped(daemon, rule=RULE, scope=SCOPE, value=0.0):
    return daemon.wait_for(lambda m: compliant(m, rule, scope) == value)


def test_start_is_compliant(daemon):
    """After start, the hardened tree is compliant and the daemon is healthy."""
    series = flipped(daemon, value=1.0)
    assert series["maildrift_watch_healthy"] == 1.0


def test_in_place_write(daemon):
    """Writing main.cf in place flips the rule."""
    text = unsafe_text(daemon)
    with open(main_cf(daemon), "w", encoding="utf-8") as handle:
        handle.write(text)
    flipped(daemon)


def test_vim_rename_save(daemon):
    """vim's rename-save (backupskip= so it really renames) flips the rule."""
    vim = require_tool("vim")
    before = os.stat(main_cf(daemon)).st_ino
    subprocess.run(
        [
            vim,
            "-u",
            "NONE",
            "-i",
            "NONE",
            "-N",
            "-es",
            "-c",
            "set backupskip=",
            "-c",
            "set backupcopy=no",
            "-c",
            "set writebackup",
            "-c",
            "%s/^    noplaintext$/    mutual_auth/",
            "-c",
            "wq",
            main_cf(daemon),
        ],
        check=True,
        timeout=30,
    )
    assert os.stat(main_cf(daemon)).st_ino != before, "vim did not rename-save"
    flipped(daemon)


def test_sed_in_place(daemon):
    """sed -i (a temp file renamed over main.cf) flips the rule."""
    subprocess.run(
        ["sed", "-i", "s/^    noplaintext$/    mutual_auth/", main_cf(daemon)], check=True
    )
    flipped(daemon)


def test_temp_file_and_mv(daemon):
    """A temp file moved over main.cf (Ansible's way) flips the rule."""
    temp = main_cf(daemon) + ".ansible.tmp"
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write(unsafe_text(daemon))
    subprocess.run(["mv", temp, main_cf(daemon)], check=True)
    flipped(daemon)


def test_install(daemon, tmp_path):
    """install(1), which deletes and recreates the file, flips the rule."""
    source = tmp_path / "main.cf.new"
    source.write_text(unsafe_text(daemon))
    subprocess.run(["install", "-m", "0644", str(source), main_cf(daemon)], check=True)
    flipped(daemon)


def test_cp_over(daemon, tmp_path):
    """cp over the file (truncate, then write) flips the rule."""
    source = tmp_path / "main.cf.new"
    source.write_text(unsafe_text(daemon))
    subprocess.run(["cp", str(source), main_cf(daemon)], check=True)
    flipped(daemon)


def test_postconf_e(daemon):
    """The real postconf -e flips the rule."""
    postconf = require_tool("postconf")
    directory = os.path.dirname(main_cf(daemon))
    subprocess.run(
        [postconf, "-c", directory, "-e", "smtpd_sasl_security_options=noanonymous"],
        check=True,
        timeout=30,
    )
    flipped(daemon)


def test_chmod_world_writable(daemon):
    """chmod 0666 on main.cf flips the permissions rule."""
    os.chmod(main_cf(daemon), 0o666)
    flipped(daemon, "postfix-config-permissions", "postfix:main")


def test_directory_deleted_and_recreated(daemon, tmp_path):
    """Deleting /etc/postfix and recreating it is seen, and its watch comes back."""
    directory = os.path.dirname(main_cf(daemon))
    saved = tmp_path / "saved"
    shutil.copytree(directory, saved)
    shutil.rmtree(directory)
    valid = 'maildrift_config_valid{component="postfix",instance=""}'
    daemon.wait_for(lambda m: m.get(valid) == 0.0)
    shutil.copytree(saved, directory)
    flipped(daemon, value=1.0)
    text = unsafe_text(daemon)
    with open(main_cf(daemon), "w", encoding="utf-8") as handle:
        handle.write(text)
    flipped(daemon)


def test_include_outside_root(daemon, tmp_path):
    """A new include outside /etc/dovecot is followed, and an edit in it is seen."""
    outside = os.path.join(daemon.root, "srv/mailconf")
    os.makedirs(outside)
    extra = os.path.join(outside, "extra.conf")
    with open(extra, "w", encoding="utf-8") as handle:
        handle.write("ssl_min_protocol = TLSv1.2\n")
    with open(
        os.path.join(daemon.root, "etc/dovecot/dovecot.conf"), "a", encoding="utf-8"
    ) as handle:
        handle.write("!include /srv/mailconf/extra.conf\n")
    flipped(daemon, "dovecot-ssl-min-protocol", "dovecot:global", 1.0)
    with open(extra, "w", encoding="utf-8") as handle:
        handle.write("ssl_min_protocol = TLSv1\n")
    flipped(daemon, "dovecot-ssl-min-protocol", "dovecot:global", 0.0)
