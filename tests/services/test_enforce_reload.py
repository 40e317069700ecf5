"""Enforce mode's Reloader and Validator against the running private Postfix + Dovecot."""

from __future__ import annotations

import time

import pytest

from maildrift.enforce.reload import CommandRunner, Reloader, Validator
from tests.services.mailstack import MailStack

pytestmark = pytest.mark.services


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_reload_running_instances(stack: MailStack):
    """postfix -c DIR reload and doveadm -c FILE reload of running instances are ok and happen."""
    outcomes = []
    reloader = Reloader(
        {
            "postfix": [stack.tool("postfix"), "-c", stack.config_dir, "reload"],
            "dovecot": [stack.tool("doveadm"), "-c", stack.dovecot_conf, "reload"],
        },
        CommandRunner(),
        timeout_s=30,
        observe=lambda component, instance, result: outcomes.append((component, result.outcome)),
    )
    mark = stack.postfix_log_mark()
    hups = stack.dovecot_log().count("SIGHUP received")
    postfix = reloader.reload("postfix")
    dovecot = reloader.reload("dovecot")
    assert (postfix.outcome, dovecot.outcome) == ("ok", "ok"), (postfix, dovecot)
    assert outcomes == [("postfix", "ok"), ("dovecot", "ok")]
    assert wait_for(lambda: "reload -- version" in stack.postfix_log(since=mark))
    assert wait_for(lambda: stack.dovecot_log().count("SIGHUP received") > hups)
    print(f"postfix reload {postfix.duration_s:.3f} s, doveadm reload {dovecot.duration_s:.3f} s")


def test_validate_the_running_stack_config(stack: MailStack):
    """The live stack's own main.cf and dovecot.conf pass postfix check and doveconf -n."""
    results = Validator(CommandRunner()).validate(stack.config_dir, stack.dovecot_conf)
    assert {k: r.outcome for k, r in results.items()} == {"postfix": "ok", "doveconf": "ok"}
    print(f"postfix check {results['postfix'].duration_s:.3f} s on the live tree")
