"""maildrift check against a real Postfix and Dovecot: its verdicts match what smtpd does."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.services


def check(stack) -> dict:
    """(rule, scope) -> result of maildrift check on the live private stack."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "maildrift",
            "check",
            "--postfix-dir",
            stack.config_dir,
            "--dovecot-config",
            stack.dovecot_conf,
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    return {(r["rule"], r["scope"]): r for r in json.loads(proc.stdout)["results"]}


def status(results: dict, rule: str, port: int) -> str:
    return results[(rule, f"postfix:127.0.0.1:{port}/inet")]["status"]


def test_hardened_stack_passes_and_auth_needs_tls(stack):
    """Every SASL rule passes; no AUTH before STARTTLS, AUTH PLAIN succeeds after it."""
    results = check(stack)
    port = stack.smtp_port
    for rule in (
        "postfix-sasl-security-options",
        "postfix-sasl-tls-security-options",
        "postfix-tls-auth-only",
        "mail-sasl-mechanisms-available",
        "dovecot-auth-listener",
        "postfix-sasl-type",
        "postfix-sasl-path",
    ):
        assert status(results, rule, port) == "pass", (
            rule,
            results.get((rule, f"postfix:127.0.0.1:{port}/inet")),
        )
    session = stack.smtp_session(port)
    assert session.auth_before_tls is None
    assert session.tls and session.auth_code == 235


def test_plaintext_auth_open(stack):
    """noplaintext removed and auth_only off: check fails both rules, plaintext AUTH works."""
    stack.set_main(smtpd_sasl_security_options="noanonymous", smtpd_tls_auth_only="no")
    results = check(stack)
    port = stack.smtp_port
    assert status(results, "postfix-sasl-security-options", port) == "fail"
    assert status(results, "postfix-tls-auth-only", port) == "fail"
    session = stack.smtp_session(port, starttls=False)
    assert session.auth_before_tls is not None and session.auth_code == 235


def test_case1_no_mechanism_before_tls(stack):
    """noplaintext while AUTH is offered before TLS: check fails, smtpd dies (fatal)."""
    stack.set_main(smtpd_tls_auth_only="no")
    results = check(stack)
    assert status(results, "mail-sasl-mechanisms-available", stack.smtp_port) == "fail"
    session = stack.smtp_session(stack.smtp_port, starttls=False)
    assert session.fatal_no_mechanisms


def test_case2_no_mechanism_inside_tls(stack):
    """noplaintext inside TLS with only plain/login: check fails, smtpd dies after STARTTLS."""
    stack.set_main(smtpd_sasl_tls_security_options="noanonymous, noplaintext")
    results = check(stack)
    assert status(results, "mail-sasl-mechanisms-available", stack.smtp_port) == "fail"
    session = stack.smtp_session(stack.smtp_port)
    assert session.fatal_no_mechanisms or session.dropped


def test_case3_auth_only_without_tls(stack):
    """auth_only with TLS off: check fails, and AUTH is never offered."""
    stack.set_main(smtpd_tls_security_level="none")
    results = check(stack)
    assert status(results, "mail-sasl-mechanisms-available", stack.smtp_port) == "fail"
    session = stack.smtp_session(stack.smtp_port, starttls=False)
    assert session.auth_before_tls is None
    assert session.auth_code != 235
