"""Enforce mode proved on the real private Postfix and Dovecot: ``maildrift run`` as a subprocess.

Each test starts its own daemon (fresh state dir, so fresh last-known-good and
flap counts) on the module's stack, reset to the hardened baseline.  The
daemon validates with the real ``postfix check`` and ``doveconf -n`` and
reloads with ``postfix -c DIR reload`` and ``doveadm -c FILE reload``.  The
timings each test prints are summarised in docs/real-services.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from tests.service.harness import DaemonProcess
from tests.services.conftest import running_stack
from tests.services.mailstack import FATAL_NO_MECHS, MailStack

pytestmark = pytest.mark.services

SASL = "postfix-sasl-security-options"
AUTH_ONLY = "postfix-tls-auth-only"
LISTENER = "dovecot-auth-listener"
SAFE_SASL = "smtpd_sasl_security_options = noanonymous, noplaintext\n"
SAFE_AUTH_ONLY = "smtpd_tls_auth_only = yes\n"
UNSAFE_SASL = "smtpd_sasl_security_options = noanonymous\n"
UNSAFE_AUTH_ONLY = "smtpd_tls_auth_only = no\n"
HOSTNAME = "myhostname = maildrift-test.invalid\n"

#: Beyond the fixture's baseline, so that every enforceable rule passes before
#: each test (enforcement only reverts rules that go from pass to fail).
TLS_FLOOR = {
    "smtp_tls_security_level": "may",
    "smtpd_tls_protocols": ">=TLSv1.2",
    "smtpd_tls_mandatory_protocols": ">=TLSv1.2",
    "smtp_tls_protocols": ">=TLSv1.2",
    "smtp_tls_mandatory_protocols": ">=TLSv1.2",
}


class ProofStack(MailStack):
    """The fixture's stack with a baseline on which every enforceable rule passes.

    Dovecot's base_dir and state_dir move out of the directory of
    dovecot.conf, as on a real host (/run/dovecot beside /etc/dovecot):
    maildrift judges every file under the configuration directories, and
    Dovecot's own sockets there fail dovecot-config-permissions.  Dovecot gets
    ``ssl = required`` with the stack's certificate, and Postfix a TLS floor.
    """

    def __init__(self) -> None:
        super().__init__()
        os.rmdir(self.dovecot_state)
        self.dovecot_base = os.path.join(self.root, "dovecot-run")
        self.dovecot_state = os.path.join(self.root, "dovecot-state")
        os.makedirs(self.dovecot_state, mode=0o750)
        self.write_dovecot()

    def hardened(self, **changes: str | None) -> dict[str, str]:
        return super().hardened(**{**TLS_FLOOR, **changes})

    def write_dovecot(self, extra: str | None = None, listener_mode: str | None = None) -> None:
        own = self.dovecot_extra if extra is None else extra
        # Later settings win: these follow the stack's "ssl = no".
        tls = f"ssl = required\nssl_cert = <{self.cert}\nssl_key = <{self.key}\n"
        try:
            super().write_dovecot(extra=tls + own, listener_mode=listener_mode)
        finally:
            self.dovecot_extra = own  # what ensure_clean compares with ""


@pytest.fixture(scope="module")
def mailstack() -> Iterator[MailStack]:
    """This module's stack: the conftest fixture's, with the ProofStack baseline."""
    yield from running_stack(ProofStack)


@pytest.fixture
def daemons(stack: MailStack, tmp_path) -> Iterator:
    """Start ``maildrift run`` on the stack: ``daemons(mode, env=None)``; stopped after the test."""
    started: list[DaemonProcess] = []

    def start(mode: str, env: dict | None = None) -> DaemonProcess:
        workdir = tmp_path / f"daemon{len(started)}"
        workdir.mkdir()
        reload_postfix = [stack.tool("postfix"), "-c", stack.config_dir, "reload"]
        reload_dovecot = [stack.tool("doveadm"), "-c", stack.dovecot_conf, "reload"]
        extra = (
            f"postfix: [{{config_directory: {json.dumps(stack.config_dir)}}}]\n"
            f"dovecot: [{{config_file: {json.dumps(stack.dovecot_conf)}}}]\n"
            "enforce:\n  validate: true\n  reload_commands:\n"
            f"    postfix: {json.dumps(reload_postfix)}\n"
            f"    dovecot: {json.dumps(reload_dovecot)}\n"
        )
        daemon = DaemonProcess(None, str(workdir), mode=mode, extra_config=extra, env=env)
        started.append(daemon)
        return daemon.start()

    yield start
    codes = [daemon.stop() for daemon in started]
    for daemon in started:
        print(f"--- daemon log ({daemon.config_path}) ---\n{daemon.log()[-6000:]}")
    assert codes == [0] * len(started)


# ------------------------------------------------------------------------- helpers


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _save(path: str, text: str) -> float:
    """An editor's save (temp file + rename, fresh mtime); the monotonic time of the rename."""
    temp = f"{path}.save{os.getpid()}"
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(temp, 0o644)
    os.replace(temp, path)
    return time.monotonic()


def _main_cf(stack: MailStack) -> str:
    return os.path.join(stack.config_dir, "main.cf")


def _scopes(stack: MailStack) -> list[str]:
    return [f"postfix:127.0.0.1:{port}/inet" for port in (stack.smtp_port, stack.submission_port)]


def _total(series: dict, name: str, **labels: str) -> float:
    """Sum of the series ``name`` whose labels include ``labels``."""
    return sum(
        value
        for key, value in series.items()
        if key.startswith(name + "{") and all(f'{k}="{v}"' in key for k, v in labels.items())
    )


def _reverted(series: dict, keys, outcome: str) -> bool:
    """Every ``(rule, scope)`` of ``keys`` has at least one revert with ``outcome``."""
    reverts = "maildrift_reverts_total"
    return all(_total(series, reverts, rule=r, scope=s, outcome=outcome) >= 1 for r, s in keys)


def _wait(predicate, timeout: float = 20.0, interval: float = 0.005) -> float | None:
    """Poll ``predicate``; the monotonic time it first held, or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(interval)
    return None


def _timings(series: dict) -> str:
    parts = []
    for name, label in (
        ("maildrift_unsafe_window_seconds", ""),
        ("maildrift_validation_duration_seconds", 'tool="postfix"'),
        ("maildrift_validation_duration_seconds", 'tool="doveconf"'),
        ("maildrift_reload_duration_seconds", 'component="postfix"'),
        ("maildrift_reload_duration_seconds", 'component="dovecot"'),
    ):
        key = f"{{{label}}}" if label else ""
        count = series.get(f"{name}_count{key}", 0)
        if count:
            mean = series[f"{name}_sum{key}"] / count
            parts.append(f"{name.split('maildrift_')[1]}{key} mean {mean:.3f} s over {count:g}")
    return "; ".join(parts)


def _quarantined(daemon: DaemonProcess) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "maildrift", "quarantine", "list", "--format", "json",
         "--state-dir", daemon.state_dir],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return json.loads(proc.stdout)


def _quarantined_data(daemon: DaemonProcess, entry: dict) -> str:
    return _read(os.path.join(daemon.state_dir, "quarantine", entry["id"] + ".data"))


def _postfix_check(stack: MailStack) -> subprocess.CompletedProcess:
    return subprocess.run(
        [stack.tool("postfix"), "-c", stack.config_dir, "check"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def _cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (its own threads, not its children)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _unsafe_save(baseline: str, hostname: str = "mx2.invalid") -> str:
    text = baseline.replace(SAFE_SASL, UNSAFE_SASL).replace(SAFE_AUTH_ONLY, UNSAFE_AUTH_ONLY)
    text = text.replace(HOSTNAME, f"myhostname = {hostname}\n")
    assert text.count(UNSAFE_SASL) == text.count(UNSAFE_AUTH_ONLY) == 1
    return text


# ------------------------------------------------------------------------ baseline


def test_baseline_passes_every_enforceable_rule(stack: MailStack, tmp_path) -> None:
    """maildrift check on the hardened stack: no enforceable rule fails or errs."""
    from maildrift.policyload import load_site_policy

    enforceable = {r.id for r in load_site_policy().active_rules if r.enforce}
    proc = subprocess.run(
        [sys.executable, "-m", "maildrift", "check", "--postfix-dir", stack.config_dir,
         "--dovecot-config", stack.dovecot_conf, "--postfix-version", "3.7",
         "--policy-dir", str(tmp_path / "none"), "--format", "json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    results = json.loads(proc.stdout)["results"]
    bad = [
        (r["rule"], r["scope"], r["status"])
        for r in results
        if r["rule"] in enforceable and r["status"] not in ("pass", "not_applicable")
    ]
    assert not bad, proc.stdout
    passing = {r["rule"] for r in results if r["status"] == "pass"}
    assert {SASL, AUTH_ONLY, LISTENER, "mail-sasl-mechanisms-available"} <= passing


# ---------------------------------------------------------------- 1 and 2: one save


def test_observe_mode_leaves_plaintext_auth_open(stack: MailStack, daemons) -> None:
    """1: observe mode reports the save; after a reload a cleartext AUTH PLAIN gets 235."""
    daemon = daemons("observe")
    main = _main_cf(stack)
    unsafe = _unsafe_save(_read(main))
    _save(main, unsafe)
    keys = [(rule, scope) for rule in (SASL, AUTH_ONLY) for scope in _scopes(stack)]
    daemon.wait_for(
        lambda s: all(
            _total(s, "maildrift_rule_compliant", rule=r, scope=sc) == 0 for r, sc in keys
        )
    )
    stack.reload_postfix()
    session = stack.smtp_session(starttls=False)
    assert session.auth_before_tls == ["PLAIN", "LOGIN"]
    assert session.auth_code == 235, session.auth_reply
    series = daemon.scrape()
    assert _total(series, "maildrift_reverts_total") == 0
    assert _read(main) == unsafe
    assert _quarantined(daemon) == []


def test_enforce_mode_puts_the_save_back(stack: MailStack, daemons) -> None:
    """2: both settings come back, myhostname stays, Postfix reloads, AUTH is refused."""
    daemon = daemons("enforce")
    main = _main_cf(stack)
    baseline = _read(main)
    unsafe = _unsafe_save(baseline)
    expected = baseline.replace(HOSTNAME, "myhostname = mx2.invalid\n")
    mark = stack.postfix_log_mark()
    # Cleartext sessions throughout: every one starts a new smtpd that reads main.cf.
    probes, stop = [], threading.Event()

    def probe() -> None:
        while not stop.is_set():
            probes.append(stack.smtp_session(starttls=False, timeout=10, fatal_wait=0))
            time.sleep(0.05)

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    try:
        saved = _save(main, unsafe)
        back = _wait(lambda: _read(main) == expected, timeout=20, interval=0.001)
        keys = [(rule, scope) for rule in (SASL, AUTH_ONLY) for scope in _scopes(stack)]
        series = daemon.wait_for(
            lambda s: (
                _reverted(s, keys, "surgical")
                and _total(s, "maildrift_reloads_total", component="postfix", outcome="ok") >= 1
            ),
            timeout=30,
        )
        done = time.monotonic()
    finally:
        stop.set()
        prober.join(30)
    assert back is not None, _read(main)
    assert _read(main) == expected
    assert stack.wait_for_postfix_log(r"reload -- version", since=mark, timeout=10)
    session = stack.smtp_session(starttls=False)
    assert session.auth_before_tls is None
    assert session.auth_code is not None and session.auth_code != 235, session
    entries = _quarantined(daemon)
    assert [e["path"] for e in entries] == [main]
    assert _quarantined_data(daemon, entries[0]) == unsafe
    # No connection, during the save, the revert or after it, hit the fatal error.
    time.sleep(1.5)  # postlogd writes asynchronously; smtpd's fatal sleeps 1 s first
    assert FATAL_NO_MECHS not in stack.postfix_log(since=mark)
    assert " fatal: " not in stack.postfix_log(since=mark)
    assert not any(p.fatal_lines or p.dropped for p in probes)
    opened = sum(1 for p in probes if p.auth_code == 235)
    print(
        f"revert on disk {1000 * (back - saved):.1f} ms after the save, reverted and reloaded"
        f" {done - saved:.2f} s after it; {_timings(series)}; {len(probes)} cleartext probes,"
        f" {opened} got 235"
    )


# ------------------------------------------------------------ 3: other ways to save


def _postconf(stack: MailStack, baseline: str) -> tuple[str, str]:
    subprocess.run(
        [stack.tool("postconf"), "-c", stack.config_dir, "-e",
         "smtpd_sasl_security_options = noanonymous", "smtpd_tls_auth_only = no",
         "myhostname = mx3.invalid"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return _main_cf(stack), baseline.replace(HOSTNAME, "myhostname = mx3.invalid\n")


def _sed(stack: MailStack, baseline: str) -> tuple[str, str]:
    subprocess.run(
        ["sed", "-i", "-e", "s/^smtpd_sasl_security_options = .*/" + UNSAFE_SASL.strip() + "/",
         "-e", "s/^smtpd_tls_auth_only = yes/smtpd_tls_auth_only = no/",
         "-e", "s/^myhostname = .*/myhostname = mx3.invalid/", _main_cf(stack)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return _main_cf(stack), baseline.replace(HOSTNAME, "myhostname = mx3.invalid\n")


def _master_override(stack: MailStack, _baseline: str) -> tuple[str, str]:
    """-o overrides on the submission service, then ``postfix reload``, as an admin does."""
    master = os.path.join(stack.config_dir, "master.cf")
    text = _read(master)
    anchor = "  -o syslog_name=maildrift-test/submission\n"
    assert text.count(anchor) == 1
    kept = "  -o myhostname=mx3.invalid\n"
    loosened = "  -o smtpd_sasl_security_options=noanonymous\n  -o smtpd_tls_auth_only=no\n"
    _save(master, text.replace(anchor, anchor + loosened + kept))
    # ensure_clean restores master.cf and restarts Postfix after this test.
    stack.master_overrides["submission"]["myhostname"] = "mx3.invalid"
    stack.reload_postfix()
    return master, text.replace(anchor, anchor + kept)


@pytest.mark.parametrize("writer", [_postconf, _sed, _master_override], ids=lambda w: w.__name__)
def test_the_same_edit_by_other_means(stack: MailStack, daemons, writer) -> None:
    """3: postconf -e, sed -i and a master.cf -o on submission: put back, the rest kept."""
    daemon = daemons("enforce")
    mark = stack.postfix_log_mark()
    path, expected = writer(stack, _read(_main_cf(stack)))
    scopes = _scopes(stack)
    if writer is _master_override:
        scopes = scopes[1:]  # the submission service alone
    keys = [(rule, scope) for rule in (SASL, AUTH_ONLY) for scope in scopes]
    series = daemon.wait_for(
        lambda s: (
            _reverted(s, keys, "surgical")
            and _total(s, "maildrift_reloads_total", component="postfix", outcome="ok") >= 1
        ),
        timeout=30,
    )
    assert _read(path) == expected
    assert _total(series, "maildrift_reverts_total") == len(keys)
    assert stack.wait_for_postfix_log(r"reload -- version", since=mark, timeout=10)
    for port in (stack.smtp_port, stack.submission_port):
        session = stack.smtp_session(port, starttls=False)
        assert session.auth_before_tls is None, (port, session)
        assert session.auth_code != 235, (port, session)
    assert " fatal: " not in stack.postfix_log(since=mark)
    print(f"{writer.__name__}: {_timings(series)}")


# ------------------------------------------------------------------------ 4: Dovecot


def _wait_socket(stack: MailStack, mode: int, timeout: float = 10) -> bool:
    return _wait(lambda: stack.auth_socket_mode() == mode, timeout, 0.02) is not None


def test_dovecot_observe_listener_0666(stack: MailStack, daemons) -> None:
    """4, observe: mode = 0666 and a reload make the auth socket 0666; reported, kept."""
    daemon = daemons("observe")
    stack.write_dovecot(listener_mode="0666")
    stack.reload_dovecot()
    assert _wait_socket(stack, 0o666), oct(stack.auth_socket_mode() or 0)
    daemon.wait_for(
        lambda s: all(
            _total(s, "maildrift_rule_compliant", rule=LISTENER, scope=scope) == 0
            for scope in _scopes(stack)
        )
    )
    assert "mode = 0666" in _read(stack.dovecot_conf)
    assert _total(daemon.scrape(), "maildrift_reverts_total") == 0


def test_dovecot_enforce_listener_back_to_0660(stack: MailStack, daemons) -> None:
    """4, enforce: the same edit and reload; maildrift puts 0660 back and reloads Dovecot."""
    daemon = daemons("enforce")
    baseline = _read(stack.dovecot_conf)
    hups = stack.dovecot_log().count("SIGHUP received")
    modes, stop = set(), threading.Event()

    def watch_socket() -> None:
        while not stop.is_set():
            modes.add(stack.auth_socket_mode())
            time.sleep(0.002)

    watcher = threading.Thread(target=watch_socket, daemon=True)
    watcher.start()
    try:
        saved = time.monotonic()
        stack.write_dovecot(listener_mode="0666")
        stack.reload_dovecot()  # the admin's reload, right after the save
        keys = [(LISTENER, scope) for scope in _scopes(stack)]
        series = daemon.wait_for(
            lambda s: (
                _reverted(s, keys, "surgical")
                and _total(s, "maildrift_reloads_total", component="dovecot", outcome="ok") >= 1
            ),
            timeout=30,
        )
        assert _read(stack.dovecot_conf) == baseline
        assert _wait_socket(stack, 0o660), oct(stack.auth_socket_mode() or 0)
        done = time.monotonic()
        time.sleep(0.5)
    finally:
        stop.set()
        watcher.join(10)
    assert stack.auth_socket_mode() == 0o660
    assert stack.dovecot_log().count("SIGHUP received") >= hups + 2  # the admin's and ours
    session = stack.smtp_session(stack.submission_port)
    assert session.auth_code == 235, session  # Postfix still reaches the socket
    seen = sorted(oct(m) if m is not None else "missing" for m in modes)
    print(
        f"socket 0660 again {done - saved:.2f} s after the save (seen: {seen}); {_timings(series)}"
    )


# --------------------------------------------------------------- 5: a fighting writer


def test_fighting_writer_ends_in_suspension(stack: MailStack, daemons) -> None:
    """5: a writer that puts the unsafe value back every 100 ms: 3 reverts, then suspension.

    Like Puppet or Ansible it writes when its value is gone; once the rules are
    suspended it rewrites every 100 ms regardless, and the daemon stays quiet.
    """
    daemon = daemons("enforce")
    main = _main_cf(stack)
    unsafe = _unsafe_save(_read(main))
    keys = [(rule, scope) for rule in (SASL, AUTH_ONLY) for scope in _scopes(stack)]
    stop, relentless, writes = threading.Event(), threading.Event(), []

    def fight() -> None:
        while not stop.is_set():
            if relentless.is_set() or _read(main) != unsafe:
                _save(main, unsafe)
                writes.append(time.monotonic())
            time.sleep(0.1)

    pid = daemon.proc.pid
    cpu_before, started = _cpu_seconds(pid), time.monotonic()
    writer = threading.Thread(target=fight, daemon=True)
    writer.start()
    try:
        daemon.wait_for(lambda s: _reverted(s, keys, "suspended"), timeout=45)
        suspended_at, cpu_fight = time.monotonic(), _cpu_seconds(pid) - cpu_before
        relentless.set()
        time.sleep(3)
    finally:
        stop.set()
        writer.join(10)
    elapsed = time.monotonic() - started
    cpu = _cpu_seconds(pid) - cpu_before
    series = daemon.scrape()
    for rule, scope in keys:
        labels = {"rule": rule, "scope": scope}
        assert _total(series, "maildrift_reverts_total", outcome="surgical", **labels) == 3
        assert _total(series, "maildrift_reverts_total", outcome="suspended", **labels) == 1
        assert _total(series, "maildrift_enforcement_suspended", **labels) == 1
    assert _total(series, "maildrift_reverts_total") == 4 * len(keys)
    suspended = [line for line in daemon.log().splitlines() if "enforcement_suspended" in line]
    assert len(suspended) == len(keys)
    assert _read(main) == unsafe  # suspended: the other writer's value stays
    # A revert costs an evaluation, a candidate and a few ms of swapping; the rest is
    # waiting for postfix check and the reload (children, not counted here).  A loop
    # that spun would burn a whole core; 25 % of the wall time leaves ample headroom.
    assert cpu < 0.25 * elapsed, (cpu, elapsed)
    print(
        f"{len(writes)} writes; suspended {suspended_at - started:.1f} s after the first write;"
        f" daemon CPU {cpu_fight:.2f} s over those {suspended_at - started:.1f} s, then"
        f" {cpu - cpu_fight:.2f} s over {elapsed - (suspended_at - started):.1f} s of writes"
        f" every 100 ms while suspended; {_timings(series)}"
    )


# ----------------------------------------------------- 6: an edit postfix check refuses


@pytest.mark.parametrize(
    ("broken", "outcome"),
    [
        # No rule reads line_length_limit: the surgical revert keeps it, postfix check
        # fails, and the whole last-known-good file comes back.
        ("line_length_limit = many\n", "whole_file"),
        # postfix-process-limit reads default_process_limit (pass -> error): it is part
        # of the group, so the surgical revert already puts it back.
        ("default_process_limit = many\n", "surgical"),
    ],
    ids=["unjudged-parameter", "judged-parameter"],
)
def test_edit_that_breaks_postfix_check(stack: MailStack, daemons, broken, outcome) -> None:
    """6: the result validates; a surgical revert that does not is replaced by the whole LKG."""
    daemon = daemons("enforce")
    main = _main_cf(stack)
    baseline = _read(main)
    unsafe = baseline.replace(SAFE_SASL, UNSAFE_SASL) + broken
    mark = stack.postfix_log_mark()
    saved = _save(main, unsafe)
    keys = [(SASL, scope) for scope in _scopes(stack)]
    series = daemon.wait_for(
        lambda s: (
            _reverted(s, keys, outcome)
            and _total(s, "maildrift_reloads_total", component="postfix", outcome="ok") >= 1
        ),
        timeout=40,
    )
    done = time.monotonic()
    assert _read(main) == baseline
    assert _postfix_check(stack).returncode == 0
    assert _total(series, "maildrift_reverts_total", outcome="invalid") == 0
    checks = series.get('maildrift_validation_duration_seconds_count{tool="postfix"}')
    assert checks == (2 if outcome == "whole_file" else 1)
    if outcome == "surgical":
        assert _reverted(series, [("postfix-process-limit", "postfix:main")], "surgical")
    entries = _quarantined(daemon)
    assert [_quarantined_data(daemon, e) for e in entries] == [unsafe]
    assert " fatal: " not in stack.postfix_log(since=mark)
    print(
        f"{outcome}: reverted and reloaded {done - saved:.2f} s after the save; {_timings(series)}"
    )


def test_revert_that_cannot_validate_leaves_the_found_bytes(stack: MailStack, daemons) -> None:
    """6: the last-known-good itself fails postfix check: nothing of the revert stays.

    Rules judge settings, not what postfix check refuses, so a last-known-good
    can be one that postfix check fails.  The surgical revert and the whole
    file then both fail validation, and the admin's save comes back unchanged.
    """
    stack.set_main(line_length_limit="many")
    main = _main_cf(stack)
    daemon = daemons("enforce")
    unsafe = _read(main).replace(SAFE_SASL, UNSAFE_SASL)
    _save(main, unsafe)
    keys = [(SASL, scope) for scope in _scopes(stack)]
    series = daemon.wait_for(lambda s: _reverted(s, keys, "invalid"), timeout=40)
    assert _read(main) == unsafe
    assert series.get('maildrift_validation_duration_seconds_count{tool="postfix"}') == 2
    assert _total(series, "maildrift_reloads_total") == 0
    assert _total(series, "maildrift_reverts_total", outcome="surgical") == 0
    assert _total(series, "maildrift_reverts_total", outcome="whole_file") == 0
    assert [_quarantined_data(daemon, e) for e in _quarantined(daemon)] == [unsafe]
    print(f"invalid: found bytes back; {_timings(series)}")


# -------------------------------------------------------------------------- 7: a race

FAKE_AUSEARCH = """#!/bin/sh
# Stands in for auditd's ausearch, which the quarantine asks who wrote the file:
# the admin's newer write lands now, after maildrift judged the save and
# before it swaps its revert in.
if [ ! -e {flag} ]; then
  : > {flag}
  cp {newer} {main}.admin && mv {main}.admin {main}
fi
exit 1
"""


def test_newer_admin_write_between_evaluation_and_swap_is_kept(
    stack: MailStack, daemons, tmp_path
) -> None:
    """7: a write that lands between evaluation and swap stays; the outcome is conflict."""
    main = _main_cf(stack)
    baseline = _read(main)
    newer = "# the admin's newer version\n" + baseline.replace(
        HOSTNAME, "myhostname = mx7.invalid\n"
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "newer.cf").write_text(newer, encoding="utf-8")
    fake = bin_dir / "ausearch"
    fake.write_text(
        FAKE_AUSEARCH.format(flag=tmp_path / "wrote", newer=tmp_path / "newer.cf", main=main),
        encoding="utf-8",
    )
    fake.chmod(0o755)
    path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    daemon = daemons("enforce", env={"PATH": path})
    unsafe = _unsafe_save(baseline)
    _save(main, unsafe)
    keys = [(rule, scope) for rule in (SASL, AUTH_ONLY) for scope in _scopes(stack)]
    series = daemon.wait_for(
        lambda s: (
            _reverted(s, keys, "conflict")
            and all(_total(s, "maildrift_rule_compliant", rule=r, scope=sc) == 1 for r, sc in keys)
        ),
        timeout=30,
    )
    assert (tmp_path / "wrote").exists()
    assert _read(main) == newer
    assert _total(series, "maildrift_reverts_total", outcome="surgical") == 0
    assert _total(series, "maildrift_reloads_total") == 0
    assert [_quarantined_data(daemon, e) for e in _quarantined(daemon)] == [unsafe]
