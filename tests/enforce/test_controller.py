"""Enforce mode in-process: real files, real stores, real swaps; reloads recorded."""

from __future__ import annotations

import os

import pytest

from tests.enforce.harness import Stack

SASL = ("postfix-sasl-security-options", "postfix:submission/inet")


def _unsafe_save(stack: Stack) -> None:
    text = stack.read("etc/postfix/main.cf")
    text = text.replace("smtpd_sasl_security_options = noanonymous,\n    noplaintext\n", "")
    text = text.replace("myhostname = mail.example.com", "myhostname = mx2.example.com")
    text = text.replace("smtpd_tls_auth_only = yes", "smtpd_tls_auth_only = no")
    text += "smtpd_sasl_security_options = noanonymous\n"
    stack.write("etc/postfix/main.cf", text)


def _sasl_on_port_25(stack: Stack) -> None:
    # The issue's layout: AUTH on the smtpd of port 25 too, where TLS is only "may".
    text = stack.read("etc/postfix/main.cf")
    stack.write("etc/postfix/main.cf", text + "smtpd_sasl_auth_enable = yes\n")


def test_the_issue_example_is_put_back_surgically(tmp_path):
    """One save: new myhostname kept, noplaintext and smtpd_tls_auth_only = yes back."""
    stack = Stack(tmp_path)
    _sasl_on_port_25(stack)
    report = stack.judge("start")
    assert not [r for r in report.results if r.status == "fail"]
    _unsafe_save(stack)
    stack.judge()
    text = stack.read("etc/postfix/main.cf")
    assert "myhostname = mx2.example.com" in text
    assert "smtpd_tls_auth_only = yes" in text
    assert "noplaintext" in text
    assert stack.status(*SASL) == "pass"
    assert stack.reverts("surgical") >= 2
    assert stack.reloader.calls == ["postfix"]
    entries = stack.quarantine.list()
    assert len(entries) == 1 and entries[0].path == "/etc/postfix/main.cf"
    assert b"smtpd_tls_auth_only = no" in stack.quarantine.content(entries[0].id)


def test_dry_run_writes_nothing(tmp_path):
    """dry-run logs and counts what it would do and leaves the file as the admin saved it."""
    stack = Stack(tmp_path, mode="dry-run")
    _sasl_on_port_25(stack)
    stack.judge("start")
    _unsafe_save(stack)
    saved = stack.read("etc/postfix/main.cf")
    stack.judge()
    assert stack.read("etc/postfix/main.cf") == saved
    assert "would_revert" in stack.log.names()
    assert stack.reverts("dry_run") >= 2
    assert stack.reloader.calls == [] and stack.quarantine.list() == []


def test_observe_records_last_known_good_only(tmp_path):
    """observe keeps last-known-good (for a later switch to enforce) and reverts nothing."""
    stack = Stack(tmp_path, mode="observe")
    stack.judge("start")
    _unsafe_save(stack)
    stack.judge()
    assert "smtpd_tls_auth_only = no" in stack.read("etc/postfix/main.cf")
    assert stack.enforcer.deps.lkg.get(SASL) is not None


def test_chmod_is_put_back_with_chmod(tmp_path):
    """An attribute-only drift (chmod 0666 of main.cf) goes back to 0644 by chmod."""
    stack = Stack(tmp_path)
    stack.judge("start")
    main = stack.path("etc/postfix/main.cf")
    inode = os.stat(main).st_ino
    os.chmod(main, 0o666)
    stack.judge()
    assert os.stat(main).st_mode & 0o777 == 0o644
    assert os.stat(main).st_ino == inode
    assert stack.reverts("metadata") == 1


def test_master_cf_override_is_put_back(tmp_path):
    """An -o that loosens submission alone is removed from master.cf, nothing else changes."""
    stack = Stack(tmp_path)
    stack.judge("start")
    master = stack.read("etc/postfix/master.cf")
    loosened = master.replace(
        "  -o smtpd_sasl_auth_enable=yes\n",
        "  -o smtpd_sasl_auth_enable=yes\n  -o smtpd_sasl_security_options=noanonymous\n",
    )
    stack.write("etc/postfix/master.cf", loosened)
    stack.judge()
    assert stack.read("etc/postfix/master.cf") == master
    assert stack.reverts("surgical") >= 1


def test_dovecot_listener_mode_is_put_back(tmp_path):
    """mode = 0666 on the auth listener goes back to the file's last-known-good value."""
    stack = Stack(tmp_path)
    stack.judge("start")
    conf = "etc/dovecot/conf.d/10-master.conf"
    good = stack.read(conf)
    assert "mode = 0660" in good
    stack.write(conf, good.replace("mode = 0660", "mode = 0666"))
    stack.judge()
    assert stack.read(conf) == good
    assert stack.reloader.calls == ["dovecot"]


@pytest.mark.parametrize("own_write_judged", [True, False], ids=["own-write-judged", "faster"])
def test_fighting_writer_ends_in_suspension(tmp_path, own_write_judged):
    """The 4th revert within the window is not made; the rule is suspended, loudly, once.

    A writer can also be faster than the evaluation of maildrift's own write,
    which on a real Postfix comes only after postfix check and the reload
    (about 2.5 s): its rewrite is still a new pass -> fail edit.
    """
    stack = Stack(tmp_path)
    _sasl_on_port_25(stack)
    stack.judge("start")
    per_round = []
    for _ in range(5):
        stack.clock.now += 1
        _unsafe_save(stack)
        stack.judge()
        if own_write_judged:
            stack.judge("own_write")  # the daemon judges maildrift's own write too
        per_round.append(stack.reverts("surgical"))
    rules = per_round[0]
    assert rules >= 2
    assert per_round == [rules, 2 * rules, 3 * rules, 3 * rules, 3 * rules]
    assert stack.reverts("suspended") == rules  # then it stays failing: no new transition
    suspended = [f for e, f in stack.log.events if e == "enforcement_suspended"]
    assert len(suspended) == rules
    assert "smtpd_tls_auth_only = no" in stack.read("etc/postfix/main.cf")


def test_newer_admin_write_is_never_lost(tmp_path):
    """A write that lands between judging and swapping stays; the outcome is conflict."""
    stack = Stack(tmp_path)
    stack.judge("start")
    real_swap = stack.enforcer.deps.swap
    newer = "# the admin's newer version\n" + stack.read("etc/postfix/main.cf")

    def racing_swap(path, data, expected, meta=None):
        stack.write("etc/postfix/main.cf", newer)
        return real_swap(path, data, expected, meta=meta)

    stack.enforcer.deps.swap = racing_swap
    _unsafe_save(stack)
    stack.judge()
    assert stack.read("etc/postfix/main.cf") == newer
    assert stack.reverts("conflict") >= 1


def test_missing_file_waits_for_confirm(tmp_path):
    """A deleted main.cf is restored only on the confirming evaluation, as a whole file."""
    stack = Stack(tmp_path)
    stack.judge("start")
    good = stack.read("etc/postfix/main.cf")
    os.unlink(stack.path("etc/postfix/main.cf"))
    stack.judge()
    assert not os.path.exists(stack.path("etc/postfix/main.cf"))
    assert stack.enforcer.due_at() is not None
    stack.clock.now += 1
    stack.judge("confirm")
    assert stack.read("etc/postfix/main.cf") == good
    assert stack.enforcer.due_at() is None


def _without_rate_limit(stack: Stack) -> None:
    text = stack.read("etc/postfix/main.cf")
    lines = [x for x in text.splitlines(True) if not x.startswith("smtpd_client_connection_rate")]
    stack.write("etc/postfix/main.cf", "".join(lines))


def test_no_last_known_good_is_only_reported(tmp_path):
    """A rule that never passed here is reported invalid and its file left alone."""
    stack = Stack(tmp_path, enforce_on_start=True)
    _without_rate_limit(stack)
    before = stack.read("etc/postfix/main.cf")
    stack.judge("start")
    assert stack.read("etc/postfix/main.cf") == before
    assert stack.reverts("invalid") >= 1


def test_remediation_applies_the_rules_remediation(tmp_path):
    """With remediation on, a rule without last-known-good gets its policy remediation."""
    stack = Stack(tmp_path, enforce_on_start=True, remediation=True)
    _without_rate_limit(stack)
    stack.judge("start")
    assert "smtpd_client_connection_rate_limit = 30\n" in stack.read("etc/postfix/main.cf")
    assert stack.reverts("remediated") >= 1
    assert stack.status("postfix-client-connection-rate-limit", "postfix:smtp/inet") == "pass"


def test_maintenance_forgets_rules_that_left_the_policy(tmp_path):
    """Housekeeping drops the last-known-good of a rule the policy no longer has."""
    stack = Stack(tmp_path)
    stack.judge("start")
    lkg = stack.enforcer.deps.lkg
    lkg.record_many([("gone-rule", "postfix:main")], *_tree(stack))
    stack.enforcer.maintain(stack.policy)
    assert ("gone-rule", "postfix:main") not in lkg.rule_keys()
    assert SASL in lkg.rule_keys()


def _tree(stack: Stack):
    from maildrift.enforce.treestate import tree_state
    from maildrift.loading import load_mail_config

    state = tree_state(load_mail_config(stack.sources))
    return state.files, state.contents


def test_unsafe_newer_write_after_a_conflict_is_reverted_too(tmp_path):
    """The newer write that won a conflict is judged as new: unsafe, it is put back as well."""
    stack = Stack(tmp_path)
    _sasl_on_port_25(stack)
    stack.judge("start")
    real_swap = stack.enforcer.deps.swap
    raced = []

    def racing_swap(path, data, expected, meta=None):
        if not raced:
            raced.append(1)
            text = stack.read("etc/postfix/main.cf")
            stack.write("etc/postfix/main.cf", "# a newer, still unsafe save\n" + text)
        return real_swap(path, data, expected, meta=meta)

    stack.enforcer.deps.swap = racing_swap
    _unsafe_save(stack)
    stack.judge()
    assert stack.reverts("conflict") >= 1
    stack.judge()  # the newer write's own evaluation
    text = stack.read("etc/postfix/main.cf")
    assert text.startswith("# a newer, still unsafe save\n")
    assert "noplaintext" in text and "smtpd_tls_auth_only = yes" in text
    assert stack.reverts("surgical") >= 1


def test_refused_plan_leaves_no_quarantine_entry(tmp_path):
    """A surgical plan the candidate refuses leaves no entry; the whole-file revert leaves one."""
    stack = Stack(tmp_path)
    stack.judge("start")
    text = stack.read("etc/postfix/main.cf")
    text = text.replace("message_size_limit = 10240000", "message_size_limit = 0")
    # Passes only while messages are unlimited: putting the limit back alone would fail it.
    text = text.replace("queue_minfree = 20971520", "queue_minfree = 1000")
    stack.write("etc/postfix/main.cf", text)
    stack.judge()
    assert "message_size_limit = 10240000" in stack.read("etc/postfix/main.cf")
    assert stack.reverts("whole_file") >= 1
    entries = stack.quarantine.list()
    assert len(entries) == 1
    assert b"queue_minfree = 1000" in stack.quarantine.content(entries[0].id)
    assert "queue_minfree = 20971520" in stack.quarantine.get(entries[0].id).diff


def test_writer_is_named_in_the_entry(tmp_path):
    """The writer lookup (auditd) runs in the quarantine's worker and lands in the sidecar."""
    asked = []

    def writer_of(path):
        asked.append(path)
        return {"comm": "vi", "source": "auditd"}

    stack = Stack(tmp_path, writer_of=writer_of)
    _sasl_on_port_25(stack)
    stack.judge("start")
    _unsafe_save(stack)
    stack.judge()
    assert "noplaintext" in stack.read("etc/postfix/main.cf")
    stack.enforcer.keeper.flush()
    entries = stack.quarantine.list()
    assert len(entries) == 1 and entries[0].writer == {"comm": "vi", "source": "auditd"}
    assert asked and asked[0].endswith("/etc/postfix/main.cf")
