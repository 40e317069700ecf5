"""Validator and Reloader with the real tools on private trees: postfix check, doveconf -n.

Reloads of running instances are in tests/services/test_enforce_reload.py.
"""

from __future__ import annotations

import os
import time

import pytest

from maildrift.enforce.reload import CommandRunner, Reloader, Validator, passed
from tests.realtools import require_tool
from tests.services.mailstack import MASTER_SERVICES, PLUMBING

pytestmark = pytest.mark.real

GOOD_DOVECOT = """\
protocols =
ssl = no
auth_mechanisms = plain
"""


def write(path, text: str) -> str:
    """Write ``text`` and backdate it: Postfix pauses 1.5 s on a main.cf changed just now."""
    path.write_text(text)
    os.utime(path, (time.time() - 60, time.time() - 60))
    return str(path)


@pytest.fixture
def postfix_tree(tmp_path) -> str:
    """A private Postfix config dir whose queue, data and log live under tmp_path."""
    require_tool("postfix")
    config = tmp_path / "postfix"
    config.mkdir()
    for sub in ("queue", "data", "log"):
        (tmp_path / sub).mkdir()
    write(config / "main.cf", PLUMBING.format(root=tmp_path))
    write(config / "master.cf", MASTER_SERVICES)
    return str(config)


def test_postfix_check_accepts_a_good_private_tree(postfix_tree):
    """postfix -c DIR check on a complete private tree is outcome ok."""
    results = Validator(CommandRunner()).validate(postfix_dir=postfix_tree)
    result = results["postfix"]
    assert (result.outcome, result.returncode) == ("ok", 0), result
    assert result.argv[0].endswith("/postfix")
    assert result.argv[1:] == ("-c", postfix_tree, "check")
    print(f"postfix check: {result.duration_s:.3f} s")


def test_postfix_check_rejects_a_bad_number(postfix_tree):
    """A non-numeric integer parameter makes postfix check fail (exit 1)."""
    main = os.path.join(postfix_tree, "main.cf")
    with open(main, "a", encoding="utf-8") as handle:
        handle.write("default_process_limit = many\n")
    os.utime(main, (time.time() - 60, time.time() - 60))
    result = Validator(CommandRunner()).check("postfix", postfix_tree)
    assert (result.outcome, result.returncode) == ("failed", 1), result
    assert not passed({"postfix": result})


def test_doveconf_accepts_good_and_names_the_broken_line(tmp_path):
    """doveconf -c FILE -n: ok on a good file; on a broken one failed, with file:line in stderr."""
    require_tool("doveconf")
    good = write(tmp_path / "good.conf", GOOD_DOVECOT)
    bad = write(tmp_path / "bad.conf", GOOD_DOVECOT + "auth_mechanisms_typo = plain\n")
    validator = Validator(CommandRunner())
    ok = validator.validate(dovecot_config=good)["doveconf"]
    assert (ok.outcome, ok.returncode, ok.stderr_tail) == ("ok", 0, "")
    failed = validator.validate(dovecot_config=bad)["doveconf"]
    assert failed.outcome == "failed"
    assert failed.returncode not in (0, None)
    assert f"{bad} line 4: Unknown setting: auth_mechanisms_typo" in failed.stderr_tail
    print(f"doveconf -n: ok {ok.duration_s:.3f} s, failed {failed.duration_s:.3f} s")


def test_doveconf_missing_file_fails(tmp_path):
    """A configuration file that does not exist is a failed validation, not a crash."""
    require_tool("doveconf")
    result = Validator(CommandRunner()).check("doveconf", str(tmp_path / "absent.conf"))
    assert result.outcome == "failed"
    assert "No such file or directory" in result.stderr_tail


def test_reload_of_stopped_instances_fails(postfix_tree, tmp_path):
    """postfix/doveadm reload of instances that are not running are outcome failed."""
    postfix, doveadm = require_tool("postfix"), require_tool("doveadm")
    conf = write(tmp_path / "dovecot.conf", GOOD_DOVECOT + f"base_dir = {tmp_path}/run\n")
    reloader = Reloader(
        {
            "postfix": [postfix, "-c", postfix_tree, "reload"],
            "dovecot": [doveadm, "-c", conf, "reload"],
        },
        CommandRunner(),
        timeout_s=30,
    )
    postfix = reloader.reload("postfix")
    assert (postfix.outcome, postfix.returncode) == ("failed", 1)
    dovecot = reloader.reload("dovecot")
    assert dovecot.outcome == "failed"
    assert "Dovecot is not running" in dovecot.stderr_tail
