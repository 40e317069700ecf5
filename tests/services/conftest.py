"""Fixtures for the real-services tests: one private Postfix + Dovecot pair per module."""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator

import pytest

from tests.realtools import REQUIRE_REAL, require_tool
from tests.services.mailstack import MailStack

TOOLS = ("postfix", "postconf", "dovecot", "doveadm", "doveconf", "openssl")


def _require_privileges() -> None:
    problems = []
    if os.geteuid() != 0:
        problems.append("must run as root")
    for user in ("postfix", "dovecot"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            problems.append(f"no {user!r} user")
    if problems:
        message = "private mail stack: " + ", ".join(problems)
        if REQUIRE_REAL:
            pytest.fail(message + " (MAILDRIFT_REQUIRE_REAL=1)")
        pytest.skip(message)


def running_stack(stack_class: type[MailStack] = MailStack) -> Iterator[MailStack]:
    """Start a private stack of ``stack_class`` on its hardened baseline; always cleaned up."""
    for tool in TOOLS:
        require_tool(tool)
    _require_privileges()
    stack = stack_class()
    try:
        stack.reset_main(**stack.hardened())
        stack.start()
        yield stack
    finally:
        stack.cleanup()


@pytest.fixture(scope="module")
def mailstack() -> Iterator[MailStack]:
    """A running private stack with the hardened baseline; stopped after the module."""
    yield from running_stack()


@pytest.fixture
def stack(mailstack: MailStack) -> Iterator[MailStack]:
    """The module's stack, reset to the hardened baseline; prints its logs for failures."""
    mailstack.ensure_clean()
    mark = mailstack.postfix_log_mark()
    dovecot_mark = len(mailstack.dovecot_log())
    yield mailstack
    print("--- postfix log during the test ---")
    print(mailstack.postfix_log(since=mark))
    print("--- dovecot log during the test ---")
    print(mailstack.dovecot_log()[dovecot_mark:])
