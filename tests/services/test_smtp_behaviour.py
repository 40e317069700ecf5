"""What a real smtpd (Postfix 3.7) with Dovecot SASL does under the policy's settings.

One private stack serves the whole module (see ``conftest.py``); each test
starts from the hardened baseline of :meth:`MailStack.hardened`.  Every smtpd
serves one connection (``max_use=1``), so a main.cf edit applies to the next
session without a reload.  The observed behaviour is summarised in
docs/real-services.md.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from tests.services.mailstack import MailStack

pytestmark = pytest.mark.services

SENDER = "alice@example.invalid"
BOTH = ["PLAIN", "LOGIN"]


def _wait_mode_change(stack: MailStack, old: int, timeout: float = 10.0) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mode = stack.auth_socket_mode()
        if mode is not None and mode != old:
            return mode
        time.sleep(0.02)
    return stack.auth_socket_mode()


def _listeners(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp) listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table, encoding="ascii") as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                address, _, hexport = fields[1].rpartition(":")
                if int(hexport, 16) == port and fields[3] == "0A":
                    found.add(address)
    return found


# --------------------------------------------------------------------- stack


def test_stack_is_private_and_loopback_only(stack: MailStack) -> None:
    """The instance keeps queue, data and log in its temp dir and listens on 127.0.0.1 only."""
    names = ["queue_directory", "data_directory", "maillog_file", "smtpd_sasl_path"]
    shown = subprocess.run(
        [stack.tool("postconf"), "-c", stack.config_dir, "-h", *names],
        capture_output=True, text=True, check=True,
    ).stdout.split("\n")  # fmt: skip
    assert shown[:3] == [stack.queue_dir, stack.data_dir, stack.postfix_log_path]
    assert shown[3] == "private/auth"
    assert stack.postfix_master_pid() is not None
    assert stack.dovecot_master_pid() is not None
    assert _listeners(stack.smtp_port) == {"0100007F"}
    assert _listeners(stack.submission_port) == {"0100007F"}
    assert stack.auth_socket_mode() == 0o660


# ------------------------------------------------------------------ a and b


def test_hardened_offers_auth_only_after_starttls(stack: MailStack) -> None:
    """a: hardened config: no AUTH before STARTTLS, PLAIN LOGIN after it, AUTH PLAIN gets 235."""
    result = stack.smtp_session()
    assert result.greeted and result.starttls_offered
    assert result.auth_before_tls is None
    assert result.tls and result.auth_after_tls == BOTH
    assert result.auth_code == 235, result.auth_reply
    assert not result.fatal_lines


def test_hardened_refuses_plaintext_auth(stack: MailStack) -> None:
    """a: hardened config: AUTH PLAIN without TLS gets 503 and no fatal error."""
    result = stack.smtp_session(starttls=False)
    assert result.greeted and result.auth_before_tls is None
    assert result.auth_code == 503 and "authentication not enabled" in result.auth_reply
    assert not result.dropped and not result.fatal_lines


def test_without_noplaintext_and_auth_only_plaintext_auth_succeeds(stack: MailStack) -> None:
    """b: without noplaintext and with auth_only = no, AUTH PLAIN succeeds in cleartext."""
    stack.reset_main(
        **stack.hardened(smtpd_sasl_security_options="noanonymous", smtpd_tls_auth_only="no")
    )
    result = stack.smtp_session(starttls=False)
    assert not result.tls
    assert result.auth_before_tls == BOTH
    assert result.auth_code == 235, result.auth_reply


# ------------------------------------------------- c1: non-TLS options filter all


def test_case1_noplaintext_without_auth_only_kills_every_connection(stack: MailStack) -> None:
    """c1: noplaintext + auth_only = no: each smtpd dies before the banner; master throttles."""
    stack.reset_main(**stack.hardened(smtpd_tls_auth_only="no"))
    mark = stack.postfix_log_mark()
    for port in (stack.smtp_port, stack.submission_port):
        result = stack.smtp_session(port, starttls=False)
        assert not result.greeted and result.dropped and result.dropped_at.startswith("connect")
        assert result.fatal_no_mechanisms, result.fatal_lines
    assert stack.wait_for_postfix_log("bad command startup -- throttling", since=mark)
    # While throttled (service_throttle_time, 60 s) a client connects but gets no banner.
    hung = stack.smtp_session(starttls=False, timeout=2, fatal_wait=0)
    assert hung.timed_out and not hung.greeted and not hung.fatal_lines


def test_case1_with_encrypt_level_has_no_fatal(stack: MailStack) -> None:
    """c1 + level encrypt: no fatal; no AUTH before TLS (530), AUTH PLAIN 235 after STARTTLS."""
    stack.reset_main(**stack.hardened(smtpd_tls_auth_only="no", smtpd_tls_security_level="encrypt"))
    plain = stack.smtp_session(starttls=False, mail_from=SENDER)
    assert plain.greeted and not plain.dropped
    assert plain.auth_before_tls is None
    assert plain.auth_code == 530 and "STARTTLS" in plain.auth_reply
    assert plain.mail_code == 530
    secured = stack.smtp_session(mail_from=SENDER)
    assert secured.auth_after_tls == BOTH and secured.auth_code == 235
    assert secured.mail_code == 250
    assert not plain.fatal_lines and not secured.fatal_lines


def test_case1_with_wrappermode_service_works_while_plain_service_dies(stack: MailStack) -> None:
    """c1 + wrappermode on one service: that service authenticates; the plain one dies."""
    stack.reset_main(**stack.hardened(smtpd_tls_auth_only="no"))
    stack.set_master_override("submission", "smtpd_tls_wrappermode", "yes")
    stack.reload_postfix()
    wrapped = stack.smtp_session(stack.submission_port, wrapper=True, mail_from=SENDER)
    assert wrapped.greeted and wrapped.tls and not wrapped.dropped
    assert wrapped.auth_after_tls == BOTH and wrapped.auth_code == 235
    assert wrapped.mail_code == 250 and not wrapped.fatal_lines
    plain = stack.smtp_session(stack.smtp_port, starttls=False)
    assert plain.dropped and not plain.greeted and plain.fatal_no_mechanisms


# ---------------------------------------------------- c2: TLS options filter all


def test_case2_noplaintext_in_tls_options_kills_smtpd_after_starttls(stack: MailStack) -> None:
    """c2: noplaintext in the TLS options: smtpd dies right after STARTTLS, then is throttled."""
    stack.reset_main(**stack.hardened(smtpd_sasl_tls_security_options="noanonymous, noplaintext"))
    mark = stack.postfix_log_mark()
    before = stack.smtp_session(starttls=False, mail_from=SENDER)
    assert before.greeted and before.auth_code == 503 and before.mail_code == 250
    assert not before.fatal_lines
    secured = stack.smtp_session()
    assert secured.greeted and secured.starttls_code == 220 and secured.tls
    assert secured.dropped and secured.dropped_at.startswith("ehlo after starttls")
    assert secured.fatal_no_mechanisms, secured.fatal_lines
    assert stack.wait_for_postfix_log("bad command startup -- throttling", since=mark)
    after = stack.smtp_session(starttls=False, timeout=2, fatal_wait=0)
    assert after.timed_out and not after.greeted


# ------------------------------------------------------ c3: auth_only, TLS off


def test_case3_auth_only_with_tls_none_never_offers_auth(stack: MailStack) -> None:
    """c3: auth_only = yes with level none: no STARTTLS, no AUTH (503), mail still accepted."""
    stack.reset_main(
        **stack.hardened(
            smtpd_tls_security_level="none", smtpd_tls_cert_file=None, smtpd_tls_key_file=None
        )
    )
    result = stack.smtp_session(mail_from=SENDER)
    assert result.greeted and not result.starttls_offered and not result.tls
    assert result.auth_before_tls is None and result.auth_code == 503
    assert result.mail_code == 250
    assert not result.dropped and not result.fatal_lines


def test_case3_auth_only_with_may_but_no_certificate(stack: MailStack) -> None:
    """c3: level may without a certificate: STARTTLS advertised but 454; AUTH never offered."""
    stack.reset_main(**stack.hardened(smtpd_tls_cert_file=None, smtpd_tls_key_file=None))
    mark = stack.postfix_log_mark()
    result = stack.smtp_session(mail_from=SENDER)
    assert result.greeted and result.starttls_offered and result.starttls_code == 454
    assert not result.tls and result.auth_before_tls is None
    assert result.auth_code == 503 and result.mail_code == 250
    assert not result.fatal_lines
    assert stack.wait_for_postfix_log("No server certs available", since=mark)


def test_case3_encrypt_without_certificate_refuses_all_mail(stack: MailStack) -> None:
    """c3 + level encrypt without a certificate: no fatal, STARTTLS 454, AUTH and MAIL get 530."""
    stack.reset_main(
        **stack.hardened(
            smtpd_tls_security_level="encrypt",
            smtpd_tls_cert_file=None,
            smtpd_tls_key_file=None,
        )
    )
    result = stack.smtp_session(mail_from=SENDER)
    assert result.greeted and result.starttls_offered and result.starttls_code == 454
    assert not result.tls and result.auth_before_tls is None
    assert result.auth_code == 530 and result.mail_code == 530
    assert not result.dropped and not result.fatal_lines


# ------------------------------------------------------------- d and e: Dovecot


def test_dovecot_listener_mode_0666_applies_on_reload(stack: MailStack) -> None:
    """d: mode = 0666 on the auth unix_listener gives a 0666 socket after doveadm reload."""
    assert stack.auth_socket_mode() == 0o660
    stack.write_dovecot(listener_mode="0666")
    stack.reload_dovecot()
    assert _wait_mode_change(stack, 0o660) == 0o666


def test_dovecot_listener_mode_decimal_660_gives_0224(stack: MailStack) -> None:
    """d: mode = 660 (read as decimal: 01224) gives a 0224 socket; smtpd still authenticates."""
    stack.write_dovecot(listener_mode="660")
    stack.reload_dovecot()
    assert _wait_mode_change(stack, 0o660) == 0o224
    result = stack.smtp_session()
    assert result.auth_after_tls == BOTH and result.auth_code == 235


def test_protocol_smtp_auth_mechanisms_filter_is_ignored(stack: MailStack) -> None:
    """e: protocol smtp { auth_mechanisms = plain } is parsed, yet smtpd offers and uses LOGIN."""
    stack.write_dovecot(extra="protocol smtp {\n  auth_mechanisms = plain\n}\n")
    stack.restart_dovecot()
    doveconf = [stack.tool("doveconf"), "-c", stack.dovecot_conf, "-h", "auth_mechanisms"]
    filtered = subprocess.run(
        [*doveconf, "-f", "protocol=smtp"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert filtered == "plain"
    result = stack.smtp_session(auth="LOGIN")
    assert result.auth_after_tls == BOTH
    assert result.auth_code == 235, result.auth_reply
    assert not result.fatal_lines
