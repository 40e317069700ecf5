"""Enforce mode: the unsafe window, measured from outside.

The daemon runs as a subprocess (``maildrift run --mode enforce``) on a scratch
copy of demo/, with ``validate: false`` and ``/bin/true`` as reload command.
This process writes an unsafe main.cf in place and watches etc/postfix with an
inotify watch of its own (ctypes, no thread): the window is from the end of
the write (close returned) to the moment that watch sees the event that puts
the fixed main.cf back (IN_MOVED_TO, from the daemon's renameat2 exchange),
checked by reading the file.  Validation and reload come after the rename and
are not in the window ("counting the write only"); they are reported beside it.

The flap guard would suspend the rule after 3 reverts in 10 minutes and after
the same unsafe content 3 times in 24 h.  This benchmark loosens it
(``FLAP`` below): it measures the revert path, not the guard.

Phases:

- ``window``: n unsafe edits (default 1,000) on the demo copy.  Besides the
  outside figure, the daemon's own ``maildrift_unsafe_window_seconds``
  histogram (event receipt to rename) is scraped before and after.
- ``validation``: ``postfix check`` / ``doveconf -n`` on the demo tree are
  tried first; the demo tree's RHEL paths make ``postfix check`` fail on a
  Debian host, so the n edits (default 30) run against a private real
  Postfix + Dovecot (tests/services/mailstack.py) with ``validate: true`` and
  real reload commands, and the tools are also timed directly.
- ``profile``: n edits (default 200) against a daemon whose functions are
  wrapped with timers (bench-side monkeypatching, no product change), to say
  where the window goes.

Results go to bench/results/enforce.json; a JSON summary is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import gc
import json
import os
import platform
import pwd
import re
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
DAEMON_PATH = os.path.join(TOP, "daemon")
sys.path.insert(0, DAEMON_PATH)
sys.path.insert(0, TOP)
from bench.run import stats  # noqa: E402

DEMO = os.path.join(TOP, "demo")
GOAL_P99_MS = 25.0
#: The flap guard, loosened: every revert is allowed (the window keeps at most one).
FLAP = {"max_reverts": 1000000, "window_s": 0.001, "max_repeats": 1000000, "repeat_window_s": 0.001}
_FLAP_YAML = ", ".join(f"{k}: {v}" for k, v in FLAP.items())

IN_CLOSE_WRITE, IN_MOVED_TO, IN_Q_OVERFLOW = 0x8, 0x80, 0x4000
IN_CLOEXEC, IN_NONBLOCK = 0o2000000, 0o4000
_EVENT = struct.Struct("iIII")
_SERIES = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")


# -- the outside watcher -------------------------------------------------------------------


class Inotify:
    """One inotify instance on one directory, read in this thread (no notifier thread)."""

    def __init__(self, directory: str, mask: int = IN_CLOSE_WRITE | IN_MOVED_TO) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(IN_CLOEXEC | IN_NONBLOCK)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if libc.inotify_add_watch(self.fd, os.fsencode(directory), mask) < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch", directory)
        self.poll = select.poll()
        self.poll.register(self.fd, select.POLLIN)

    def read(self, timeout_s: float) -> tuple[float, list[tuple[int, str]]]:
        """(time.monotonic() when read, [(mask, name)]); empty after the timeout."""
        if not self.poll.poll(max(0, int(timeout_s * 1000))):
            return time.monotonic(), []
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return time.monotonic(), []
        now = time.monotonic()
        events, offset = [], 0
        while offset < len(data):
            _, mask, _, length = _EVENT.unpack_from(data, offset)
            offset += _EVENT.size
            name = data[offset : offset + length].rstrip(b"\0").decode("utf-8", "replace")
            offset += length
            events.append((mask, name))
        return now, events

    def drain(self) -> None:
        while self.read(0)[1]:
            pass

    def close(self) -> None:
        os.close(self.fd)


# -- the daemon ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Daemon:
    """``maildrift run --mode enforce`` with its log in a file, read incrementally."""

    def __init__(self, workdir: str, config: str, args: list, profile: str | None = None) -> None:
        self.workdir, self.port = workdir, free_port()
        self.config = os.path.join(workdir, "maildrift.yaml")
        with open(self.config, "w", encoding="utf-8") as handle:
            handle.write(
                f"policy_dir: null\nmode: enforce\nstate_dir: {workdir}/state\nlog_format: json\n"
                f"postfix_version: '3.7'\nmetrics: {{listen: '127.0.0.1:{self.port}'}}\n{config}"
            )
        self.log_path = os.path.join(workdir, "daemon.log")
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        env = dict(os.environ, PYTHONPATH=DAEMON_PATH, PYTHONUNBUFFERED="1")
        command = [sys.executable, "-m", "maildrift"]
        if profile is not None:
            boot = (
                f"import sys; sys.path.insert(0, {TOP!r}); "
                "import bench.enforce_window as b; b.profiled_daemon()"
            )
            command = [sys.executable, "-c", boot, profile]
        self.proc = subprocess.Popen(
            [*command, "run", "--config", self.config, *args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        self._reader = open(self.log_path, encoding="utf-8", errors="replace")  # noqa: SIM115
        self._partial = ""
        self.events: list[dict] = []
        self.wait_event(lambda e: e.get("event") == "ready", 0, 60)

    def poll_log(self) -> None:
        text = self._partial + self._reader.read()
        lines = text.split("\n")
        self._partial = lines.pop()
        for line in lines:
            if "{" in line:
                with contextlib.suppress(ValueError):
                    self.events.append(json.loads(line[line.index("{") :]))

    def wait_event(self, predicate, after: int, timeout: float) -> int | None:
        """Index after the first log event past ``after`` that matches; None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            self.poll_log()
            for index in range(after, len(self.events)):
                if predicate(self.events[index]):
                    return index + 1
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited {self.proc.returncode}: {self.tail()}")
            if time.monotonic() > deadline:
                return None
            time.sleep(0.002)

    def tail(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()[-3000:]

    def scrape(self) -> dict:
        url = f"http://127.0.0.1:{self.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        series = {}
        for line in text.splitlines():
            match = _SERIES.match(line)
            if match:
                series[match.group(1) + (match.group(2) or "")] = float(match.group(3))
        return series

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.poll_log()
        self._reader.close()
        self._log.close()
        return self.proc.returncode


def demo_copy(workdir: str) -> str:
    root = os.path.join(workdir, "root")
    shutil.copytree(DEMO, root)
    for secret in ("etc/pki/tls/private/postfix.key", "etc/pki/dovecot/private/dovecot.pem"):
        os.chmod(os.path.join(root, secret), 0o600)
    return root


def demo_daemon(workdir: str, profile: str | None = None) -> tuple[Daemon, str]:
    root = demo_copy(workdir)
    config = (
        f"host_facts: {DEMO}/host-facts.yaml\n"
        "enforce:\n  validate: false\n"
        "  reload_commands: {postfix: [/bin/true], dovecot: [/bin/true]}\n"
        f"  flap: {{{_FLAP_YAML}}}\n"
    )
    return Daemon(workdir, config, ["--root", root], profile), root


# -- one measured series of unsafe edits ---------------------------------------------------


class Target:
    """The watched main.cf, its safe bytes, and the one-line unsafe change."""

    def __init__(self, path: str, safe_line: str, unsafe_line: str) -> None:
        self.path = path
        with open(path, "rb") as handle:
            self.safe = handle.read()
        if self.safe.count(safe_line.encode()) != 1:
            raise RuntimeError(f"{path}: {safe_line!r} is not there exactly once")
        self.unsafe = self.safe.replace(safe_line.encode(), unsafe_line.encode())
        self.safe_mark, self.unsafe_mark = safe_line.encode(), unsafe_line.encode()

    def write_unsafe(self, writer: str) -> None:
        if writer == "rename":
            temp = self.path + ".bench-tmp"
            with open(temp, "wb") as handle:
                handle.write(self.unsafe)
            os.rename(temp, self.path)
        else:
            with open(self.path, "wb") as handle:
                handle.write(self.unsafe)

    def read(self) -> bytes:
        with open(self.path, "rb") as handle:
            return handle.read()


def unsafe_edits(daemon: Daemon, target: Target, n: int, args, own_eval_timeout: float) -> dict:
    """n unsafe writes, each waited out: fixed file seen, own-write evaluation logged, pause."""
    watch = Inotify(os.path.dirname(target.path))
    base = os.path.basename(target.path)
    samples, edits, missed, not_identical, no_own_eval = [], [], 0, 0, 0
    daemon.poll_log()
    cursor = len(daemon.events)
    try:
        for _ in range(n):
            watch.drain()
            target.write_unsafe(args.writer)
            written = time.monotonic()
            deadline = written + 5.0
            seen, kinds = None, []
            while seen is None and time.monotonic() < deadline:
                now, events = watch.read(deadline - time.monotonic())
                for mask, name in events:
                    if mask & IN_Q_OVERFLOW:
                        raise RuntimeError("the benchmark's inotify queue overflowed")
                    if name != base:
                        continue
                    kinds.append("moved_to" if mask & IN_MOVED_TO else "close_write")
                    if not mask & IN_MOVED_TO:
                        continue  # an in-place write is ours; the daemon writes by rename
                    data = target.read()
                    if target.safe_mark in data and target.unsafe_mark not in data:
                        seen = now
                        not_identical += data != target.safe
                        break
            if seen is None:
                missed += 1
                with open(target.path, "wb") as handle:
                    handle.write(target.safe)
            else:
                samples.append(seen - written)
            edits.append({"written": written, "seen": seen, "events": kinds})
            # The daemon's own write is evaluated once more (reason own_write): wait it out.
            found = daemon.wait_event(
                lambda e: e.get("event") == "evaluation" and e.get("reason") == "own_write",
                cursor,
                own_eval_timeout,
            )
            if found is None:
                no_own_eval += 1
            else:
                cursor = found
            time.sleep(args.pause_ms / 1000)
    finally:
        watch.close()
    return {
        "samples": samples,
        "edits": edits,
        "missed": missed,
        "not_byte_identical": not_identical,
        "own_write_evaluation_not_seen": no_own_eval,
    }


# -- histograms from the endpoint ----------------------------------------------------------


def histogram(before: dict, after: dict, name: str, labels: str = "") -> dict | None:
    """Delta of one histogram between two scrapes: count, mean and bucket-estimated quantiles."""

    def buckets(series):
        found = {}
        for key, value in series.items():
            if key.startswith(name + "_bucket{") and labels in key:
                bound = re.search(r'le="([^"]+)"', key).group(1)
                found[float(bound)] = value
        return found

    then, now = buckets(before), buckets(after)
    key_sum, key_count = name + "_sum", name + "_count"
    if labels:
        key_sum, key_count = f"{key_sum}{{{labels}}}", f"{key_count}{{{labels}}}"
    count = after.get(key_count, 0) - before.get(key_count, 0)
    if not count:
        return None
    cumulative = sorted((b, now[b] - then.get(b, 0)) for b in now)
    total = after.get(key_sum, 0) - before.get(key_sum, 0)
    result = {"n": int(count), "mean_ms": 1e3 * total / count}
    for label, q in (("p50_ms_est", 0.5), ("p99_ms_est", 0.99)):
        result[label] = _quantile(q, cumulative)
    result["buckets_ms"] = {f"<={b * 1e3:g}": int(c) for b, c in cumulative}
    return result


def _quantile(q: float, cumulative: list) -> float | None:
    """As Prometheus' histogram_quantile: linear in the bucket, last finite bound for +Inf."""
    total = cumulative[-1][1]
    rank, lower, below = q * total, 0.0, 0.0
    for bound, count in cumulative:
        if count >= rank:
            if bound == float("inf"):
                return lower * 1e3
            inside = count - below
            return 1e3 * (lower + (bound - lower) * ((rank - below) / inside if inside else 0))
        lower, below = bound, count
    return None


def reload_times(events: list[dict]) -> dict:
    found: dict[str, list[float]] = {}
    for event in events:
        if event.get("event") == "reload" and event.get("outcome") == "ok":
            found.setdefault(event["component"], []).append(event["duration_s"])
    return {component: stats(values) for component, values in found.items()}


def outcomes(events: list[dict]) -> dict:
    counted: dict[str, int] = {}
    for event in events:
        name = event.get("event", "")
        if name in ("reverted", "enforcement_suspended") or name.startswith("revert_"):
            key = f"{name}:{event.get('kind', '')}".rstrip(":")
            counted[key] = counted.get(key, 0) + 1
    return counted


def _jiffies(pid: int | None = None) -> int:
    """Busy CPU ticks of the machine (pid None) or of one process and its waited-for children."""
    if pid is None:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = [int(v) for v in handle.readline().split()[1:]]
        return sum(fields) - fields[3] - fields[4]  # minus idle and iowait
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15])


class Noise:
    """CPU used by everything but the daemon and this process, while a phase runs."""

    def __init__(self, daemon_pid: int) -> None:
        self.pid, self.start = daemon_pid, time.monotonic()
        self.machine, self.daemon, self.own = (
            _jiffies(),
            _jiffies(daemon_pid),
            _jiffies(os.getpid()),
        )

    def result(self) -> dict:
        tick, wall = os.sysconf("SC_CLK_TCK"), time.monotonic() - self.start
        used = {
            "machine": _jiffies() - self.machine,
            "daemon": _jiffies(self.pid) - self.daemon,
            "benchmark": _jiffies(os.getpid()) - self.own,
        }
        other = used["machine"] - used["daemon"] - used["benchmark"]
        cores = os.cpu_count() or 1
        return {
            "seconds": round(wall, 1),
            "daemon_cpu_percent_of_one_core": round(100 * used["daemon"] / tick / wall, 1),
            "other_cpu_percent_of_machine": round(100 * max(0, other) / tick / wall / cores, 1),
        }


def trend(samples: list[float], parts: int = 5) -> list[float]:
    """Median in ms of each fifth of the run, in order: growth shows here."""
    size = max(1, len(samples) // parts)
    return [
        round(statistics.median(samples[i : i + size]) * 1e3, 2)
        for i in range(0, size * parts, size)
        if samples[i : i + size]
    ]


# -- phase 1: the unsafe window ------------------------------------------------------------


def phase_window(args) -> dict:
    with tempfile.TemporaryDirectory(prefix="maildrift-enforce-") as workdir:
        daemon, root = demo_daemon(workdir)
        try:
            target = Target(
                os.path.join(root, "etc/postfix/main.cf"), "    noplaintext\n", "    mutual_auth\n"
            )
            unsafe_edits(daemon, target, args.warmup, args, 2.0)
            before = daemon.scrape()
            start = len(daemon.events)
            noise = Noise(daemon.proc.pid)
            run = unsafe_edits(daemon, target, args.n, args, 2.0)
            busy = noise.result()
            after = daemon.scrape()
            events = daemon.events[start:]
            quarantined = len(os.listdir(os.path.join(workdir, "state", "quarantine")))
        finally:
            code = daemon.stop()
    samples = run["samples"]
    return {
        "writer": args.writer,
        "outside": stats(samples),
        "outside_max_ms": max(samples) * 1e3,
        "outside_over_goal": sum(s * 1e3 > GOAL_P99_MS for s in samples),
        "outside_median_by_fifth_ms": trend(samples),
        "daemon_histogram": histogram(before, after, "maildrift_unsafe_window_seconds"),
        "reload_bin_true": reload_times(events),
        "outcomes": outcomes(events),
        "missed": run["missed"],
        "not_byte_identical": run["not_byte_identical"],
        "own_write_evaluation_not_seen": run["own_write_evaluation_not_seen"],
        "fixed_seen_as": sorted({e["events"][-1] for e in run["edits"] if e["seen"]}),
        "quarantine_files_at_end": quarantined,
        "noise": busy,
        "warmup": args.warmup,
        "daemon_exit": code,
    }


# -- phase 2: validation and reload --------------------------------------------------------


def _time_command(argv: list, n: int, before=None) -> dict:
    samples, codes = [], set()
    for _ in range(n):
        if before is not None:
            before()
        start = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, check=False)
        samples.append(time.monotonic() - start)
        codes.add(proc.returncode)
    return {**stats(samples), "exit_codes": sorted(codes)}


def demo_validation() -> dict:
    """The Validator's own commands on a demo copy, as the daemon would run them."""
    from maildrift.enforce.reload import CommandRunner, Validator

    with tempfile.TemporaryDirectory(prefix="maildrift-enforce-") as workdir:
        root = demo_copy(workdir)
        results = Validator(CommandRunner()).validate(
            os.path.join(root, "etc/postfix"), os.path.join(root, "etc/dovecot/dovecot.conf")
        )
    return {
        tool: {
            "outcome": r.outcome,
            "returncode": r.returncode,
            "duration_ms": r.duration_s * 1e3,
            "stderr": r.stderr_tail[-300:],
        }
        for tool, r in results.items()
    }


def _stack_problem() -> str | None:
    from tests.services.mailstack import find_tool

    if os.geteuid() != 0:
        return "not root"
    for user in ("postfix", "dovecot"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            return f"no {user} user"
    for tool in ("postfix", "postconf", "dovecot", "doveadm", "doveconf", "openssl"):
        try:
            find_tool(tool)
        except FileNotFoundError:
            return f"{tool} not installed"
    return None


def phase_validation(args) -> dict:
    result = {"demo_tree": demo_validation()}
    if result["demo_tree"]["postfix"]["outcome"] != "ok":
        result["demo_tree_note"] = (
            "postfix check cannot pass on the demo tree: its main.cf names RHEL paths"
            " (daemon_directory = /usr/libexec/postfix), postfix logs the fatal error to"
            " syslog only and sleeps 1 s before exiting 1; validation and reload are"
            " measured on a private real Postfix + Dovecot instead"
        )
    problem = _stack_problem()
    if problem:
        result["stack"] = f"skipped: {problem}"
        return result
    from tests.services.mailstack import MailStack, find_tool

    stack = MailStack()
    try:
        stack.reset_main(**stack.hardened())
        stack.start()
        result["stack"] = _stack_run(stack, find_tool, args)
    finally:
        stack.cleanup()
    return result


def _stack_run(stack, find_tool, args) -> dict:
    postfix, doveadm, doveconf = find_tool("postfix"), find_tool("doveadm"), find_tool("doveconf")
    config = (
        f"postfix: [{{config_directory: {stack.config_dir}}}]\n"
        f"dovecot: [{{config_file: {stack.dovecot_conf}}}]\n"
        "enforce:\n  validate: true\n  reload_commands:\n"
        f"    postfix: [{postfix}, -c, {stack.config_dir}, reload]\n"
        f"    dovecot: [{doveadm}, -c, {stack.dovecot_conf}, reload]\n"
        f"  flap: {{{_FLAP_YAML}}}\n"
    )
    workdir = tempfile.mkdtemp(prefix="maildrift-enforce-")
    main = os.path.join(stack.config_dir, "main.cf")
    try:
        daemon = Daemon(workdir, config, [])
        try:
            target = Target(
                main,
                "smtpd_sasl_security_options = noanonymous, noplaintext\n",
                "smtpd_sasl_security_options = noanonymous\n",
            )
            unsafe_edits(daemon, target, 3, args, 60.0)
            before = daemon.scrape()
            start = len(daemon.events)
            run = unsafe_edits(daemon, target, args.validation_n, args, 60.0)
            after = daemon.scrape()
            events = daemon.events[start:]
        finally:
            code = daemon.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    def fresh():
        os.utime(main)

    def backdated():
        past = time.time() - 60
        os.utime(main, (past, past))

    n = args.direct_n
    direct = {
        "postfix_check_main_cf_just_written": _time_command(
            [postfix, "-c", stack.config_dir, "check"], n, fresh
        ),
        "postfix_check_main_cf_60s_old": _time_command(
            [postfix, "-c", stack.config_dir, "check"], n, backdated
        ),
        "doveconf_n": _time_command([doveconf, "-c", stack.dovecot_conf, "-n"], n),
        "postfix_reload": _time_command([postfix, "-c", stack.config_dir, "reload"], n, backdated),
        "doveadm_reload": _time_command([doveadm, "-c", stack.dovecot_conf, "reload"], n),
    }
    return {
        "outside": stats(run["samples"]) if run["samples"] else None,
        "missed": run["missed"],
        "daemon_unsafe_window_histogram": histogram(
            before, after, "maildrift_unsafe_window_seconds"
        ),
        "validation_histogram": {
            tool: histogram(
                before, after, "maildrift_validation_duration_seconds", f'tool="{tool}"'
            )
            for tool in ("postfix", "doveconf")
        },
        "reload_histogram": {
            c: histogram(before, after, "maildrift_reload_duration_seconds", f'component="{c}"')
            for c in ("postfix", "dovecot")
        },
        "reload_from_log": reload_times(events),
        "outcomes": outcomes(events),
        "direct": direct,
        "daemon_exit": code,
    }


# -- phase 3: where the window goes --------------------------------------------------------


def profiled_daemon() -> None:
    """Entry point of the profiled daemon: ``python -c ... PROFILE_FILE run ...``.

    Wraps the functions on the revert path with timers (module attributes,
    nothing in the product changes) and writes one JSON line per evaluation
    of a change: the event receipt, every timed span and the rename.
    """
    out = open(sys.argv[1], "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - process-long
    sys.argv = ["maildrift", *sys.argv[2:]]
    import maildrift.enforce.apply as apply
    import maildrift.enforce.candidate as candidate
    import maildrift.enforce.controller as controller
    import maildrift.enforce.flapguard as flapguard
    import maildrift.enforce.keeping as keeping
    import maildrift.enforce.planner as planner
    import maildrift.enforce.quarantine as quarantine
    import maildrift.enforce.safewrite as safewrite
    import maildrift.loading as loading
    import maildrift.service.daemon as service
    import maildrift.service.enforce_metrics as metrics
    import maildrift.service.enforce_wiring as wiring
    from maildrift.cli import main

    spans: list = []
    record: dict = {}

    def timed(owner, name: str, label: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def wrapper(*a, **k):
            start = time.monotonic_ns()
            try:
                return original(*a, **k)
            finally:
                spans.append((label, start, time.monotonic_ns()))

        setattr(owner, name, wrapper)

    for owner, name, label in (
        (loading, "load_mail_config", "load"),
        (service, "evaluate", "evaluate"),
        (service.Daemon, "_publish", "publish"),
        (service.Daemon, "_handle", "handle"),
        (controller.Enforcer, "after_evaluation", "after_evaluation"),
        (controller, "tree_state", "tree_state"),
        (controller.Enforcer, "_record", "lkg_record"),
        (controller, "plan_revert", "plan"),
        (controller, "inputs_of", "inputs_of"),
        (controller.Enforcer, "_lkg_of", "lkg_of"),
        (controller.Enforcer, "_content", "lkg_content"),
        (planner, "_surgical", "surgery"),
        (flapguard.FlapGuard, "allow", "flap_allow"),
        (wiring.PauseWatcher, "current", "is_paused"),
        (metrics.EnforceMetrics, "set_suspended", "set_suspended"),
        (controller, "evaluate_candidate", "candidate"),
        (candidate, "load_mail_config", "candidate_load"),
        (candidate, "evaluate", "candidate_evaluate"),
        (controller, "judge_candidate", "judge"),
        (keeping, "text_diff", "diff"),
        (wiring, "writer_of", "writer_of"),
        (quarantine.QuarantineStore, "put", "quarantine_put"),
        (quarantine.QuarantineStore, "_check_room", "quarantine_check_room"),
        (quarantine, "write_private", "quarantine_write"),
        (safewrite, "_hash_fd", "swap_hash"),
        (safewrite, "_open_target", "swap_open_target"),
        (safewrite, "_make_temp", "swap_make_temp"),
        (safewrite, "_copy_xattrs", "swap_copy_xattrs"),
        (controller.Enforcer, "only_own_writes", "own_writes_only"),
        (safewrite, "_write_temp", "swap_temp"),
        (safewrite._Exchange, "run", "swap_exchange"),
        (apply, "_swap_all", "swap_all"),
        (controller, "write_plan", "write_plan"),
        (os, "fsync", "fsync"),
    ):
        timed(owner, name, label)

    unsafe_window = controller.Enforcer.unsafe_window

    def window(self, started_ns, renamed_at):
        record["renamed_ns"] = None if renamed_at is None else int(renamed_at * 1e9)
        return unsafe_window(self, started_ns, renamed_at)

    controller.Enforcer.unsafe_window = window
    gc_started: list = []

    def on_gc(phase, info):
        if phase == "start":
            gc_started[:] = [time.monotonic_ns()]
        elif gc_started:
            spans.append((f"gc{info.get('generation')}", gc_started[0], time.monotonic_ns()))

    gc.callbacks.append(on_gc)
    evaluate = service.Daemon.evaluate

    def daemon_evaluate(self, reason, started_ns=None, judged=None):
        begin = time.monotonic_ns()
        try:
            return evaluate(self, reason, started_ns, judged)
        finally:
            line = {"received_ns": started_ns, "evaluate_ns": begin, "spans": spans[:]}
            line.update(record, reason=reason, end_ns=time.monotonic_ns())
            out.write(json.dumps(line) + "\n")
            spans.clear()
            record.clear()

    service.Daemon.evaluate = daemon_evaluate
    sys.exit(main())


#: The breakdown's rows (see _row): top-level rows add up to the outside window;
#: an "of which" row is part of the row above it; gc pauses fall inside other rows.
_BOOKKEEPING = (
    "tree_state",
    "lkg_record",
    "is_paused",
    "set_suspended",
    "flap_allow",
    "lkg_of",
    "inputs_of",
)


def _total(spans: list, names: tuple, lo: int, hi: int) -> float:
    """ms spent in the named spans that lie within [lo, hi]."""
    return sum(e - s for n, s, e in spans if n in names and lo <= s and e <= hi) / 1e6


def _first(spans: list, name: str, lo: int, hi: int) -> tuple[int, int] | None:
    found = [(s, e) for n, s, e in spans if n == name and lo <= s <= hi]
    return min(found) if found else None


def _inside(spans: list, inner: str, outer: str, lo: int, hi: int) -> float:
    """ms of ``inner`` spans nested in ``outer`` spans, within [lo, hi]."""
    windows = [(s, e) for n, s, e in spans if n == outer and lo <= s and e <= hi]
    nested = [
        e - s for n, s, e in spans if n == inner and any(a <= s and e <= b for a, b in windows)
    ]
    return sum(nested) / 1e6


def _row(record: dict, written_ns: int, seen_ns: int) -> dict | None:
    spans, begin, renamed = record["spans"], record["evaluate_ns"], record["renamed_ns"]
    enforcer = _first(spans, "after_evaluation", begin, renamed)
    swap = _first(spans, "swap_all", begin, renamed)
    if enforcer is None or swap is None:
        return None
    a, b = enforcer[0], renamed
    handles = [s for n, s, _ in spans if n == "handle" and record["received_ns"] <= s <= begin]
    handled = min(handles, default=begin)
    received = record["received_ns"]
    early_load = _total(spans, ("load",), received, begin)
    early_evaluate = _total(spans, ("evaluate",), received, begin)
    load = _total(spans, ("load",), begin, a)
    evaluate = _total(spans, ("evaluate",), begin, a)
    publish = _total(spans, ("publish",), begin, a)
    candidate_load = _total(spans, ("candidate_load",), a, b)
    candidate_evaluate = _total(spans, ("candidate_evaluate",), a, b)
    enforcer_rows = {
        "enforcer_bookkeeping": _total(spans, _BOOKKEEPING, a, b),
        "plan_revert": _total(spans, ("plan",), a, b),
        "candidate_other (in-memory reader, metadata)": _total(spans, ("candidate",), a, b)
        - candidate_load
        - candidate_evaluate,
        "candidate_load": candidate_load,
        "candidate_evaluate": candidate_evaluate,
        "judge_candidate": _total(spans, ("judge",), a, b),
        "quarantine": _total(spans, ("diff", "writer_of", "quarantine_put"), a, b),
        "swap_until_rename": (renamed - swap[0]) / 1e6,
    }
    return {
        "write_to_event_receipt": (record["received_ns"] - written_ns) / 1e6,
        "receipt_to_evaluation (settle_ms 5 + loop)": (begin - record["received_ns"]) / 1e6,
        "  of which receipt to the main loop's handling": (handled - record["received_ns"]) / 1e6,
        "  of which settle (5 ms quiet) and loop": (begin - handled) / 1e6,
        "    load of the live tree, early (inside the settle)": early_load,
        "    evaluation, early (inside the settle)": early_evaluate,
        "load_live_tree (when the early verdict was dropped)": load,
        "evaluate_policy_live (when the early verdict was dropped)": evaluate,
        "publish_verdict": publish,
        "daemon_other_before_enforcer": (a - begin) / 1e6 - load - evaluate - publish,
        "enforcer_bookkeeping": enforcer_rows["enforcer_bookkeeping"],
        "plan_revert": enforcer_rows["plan_revert"],
        "  of which lkg blob read": _inside(spans, "lkg_content", "plan", a, b),
        "  of which main.cf surgery": _inside(spans, "surgery", "plan", a, b),
        "candidate_other (in-memory reader, metadata)": enforcer_rows[
            "candidate_other (in-memory reader, metadata)"
        ],
        "candidate_load": candidate_load,
        "candidate_evaluate": candidate_evaluate,
        "judge_candidate": enforcer_rows["judge_candidate"],
        "quarantine": enforcer_rows["quarantine"],
        "  of which fsyncs (2 files + 2 directory)": _inside(
            spans, "fsync", "quarantine_put", a, b
        ),
        "  of which room check (listdir + lstat of every entry)": _inside(
            spans, "quarantine_check_room", "quarantine_put", a, b
        ),
        "swap_until_rename": enforcer_rows["swap_until_rename"],
        "  of which temp file fsync": _inside(spans, "fsync", "swap_temp", a, b),
        "  of which temp file, the rest (write, fchown, fchmod)": _total(
            spans, ("swap_temp",), a, b
        )
        - _inside(spans, "fsync", "swap_temp", a, b)
        - _total(spans, ("swap_make_temp", "swap_copy_xattrs"), a, b),
        "enforcer_other": (b - a) / 1e6 - sum(enforcer_rows.values()),
        "rename_to_outside_watcher": (seen_ns - renamed) / 1e6,
        "gc_pauses_before_rename (in the rows above)": _total(
            spans, ("gc0", "gc1", "gc2"), begin, b
        ),
        "total_outside": (seen_ns - written_ns) / 1e6,
    }


def breakdown(records: list[dict], edits: list[dict]) -> dict:
    """Per-row ms (median, p99, mean share of the outside window) from the profiled runs."""
    rows: dict[str, list[float]] = {}
    pending = [r for r in records if r.get("renamed_ns") and r.get("reason") == "change"]
    for edit in edits:
        if edit["seen"] is None:
            continue
        written_ns, seen_ns = int(edit["written"] * 1e9), int(edit["seen"] * 1e9)
        # The daemon's thread may read the event a few microseconds before this process
        # has taken the time after close(); edits are tens of ms apart.
        lowest = written_ns - 2_000_000
        record = next((r for r in pending if lowest <= r["received_ns"] <= seen_ns), None)
        row = None if record is None else _row(record, written_ns, seen_ns)
        for key, value in (row or {}).items():
            rows.setdefault(key, []).append(value)
    if not rows:
        return {"matched": 0, "rows": {}}
    total = statistics.mean(rows["total_outside"])
    table = {}
    for key in rows:  # _row's order: each "of which" row follows its parent
        values = sorted(rows[key])
        table[key] = {
            "median_ms": round(statistics.median(values), 3),
            "p99_ms": round(values[min(len(values) - 1, round(0.99 * (len(values) - 1)))], 3),
            "mean_share": round(statistics.mean(values) / total, 3),
            "median_by_fifth_ms": trend([v / 1e3 for v in rows[key]]),
        }
    return {"matched": len(rows["total_outside"]), "rows": table}


def phase_profile(args) -> dict:
    with tempfile.TemporaryDirectory(prefix="maildrift-enforce-") as workdir:
        profile = os.path.join(workdir, "profile.jsonl")
        daemon, root = demo_daemon(workdir, profile=profile)
        try:
            target = Target(
                os.path.join(root, "etc/postfix/main.cf"), "    noplaintext\n", "    mutual_auth\n"
            )
            unsafe_edits(daemon, target, 10, args, 2.0)
            noise = Noise(daemon.proc.pid)
            run = unsafe_edits(daemon, target, args.profile_n, args, 2.0)
            busy = noise.result()
        finally:
            daemon.stop()
        with open(profile, encoding="utf-8") as handle:
            records = [json.loads(line) for line in handle]
        if os.environ.get("ENFORCE_BENCH_KEEP_PROFILE"):
            shutil.copy(profile, os.environ["ENFORCE_BENCH_KEEP_PROFILE"])
    return {"outside": stats(run["samples"]), "noise": busy, **breakdown(records, run["edits"])}


# -- main ------------------------------------------------------------------------------------


def _load() -> str:
    with open("/proc/loadavg", encoding="ascii") as handle:
        return " ".join(handle.read().split()[:3])


def _commit() -> str:
    """HEAD, with "+changes" when daemon/ differs from it (the daemon runs from the tree)."""

    def git(*args):
        return subprocess.run(["git", "-C", TOP, *args], capture_output=True, text=True).stdout

    head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    return head + ("+changes" if git("status", "--porcelain", "--", "daemon").strip() else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1000, help="unsafe edits in the window phase")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--writer", choices=("in-place", "rename"), default="in-place")
    parser.add_argument("--pause-ms", type=float, default=20, help="quiet after each revert")
    parser.add_argument("--validation-n", type=int, default=30, help="edits with validate: true")
    parser.add_argument("--direct-n", type=int, default=10, help="direct runs of each tool")
    parser.add_argument("--profile-n", type=int, default=200, help="edits in the profiled phase")
    parser.add_argument(
        "--phases", default="window,validation,profile", help="comma-separated subset"
    )
    args = parser.parse_args()
    phases = set(args.phases.split(","))
    results = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}",
        "commit": _commit(),
        "load_before": _load(),
        "goal": {"unsafe_window_p99_ms": GOAL_P99_MS, "counting": "the write only"},
        "flap_guard": {**FLAP, "note": "loosened: this measures the revert path, not the guard"},
        "settle_ms": 5,
        "pause_ms": args.pause_ms,
    }
    if "window" in phases:
        results["window"] = phase_window(args)
    if "validation" in phases:
        results["validation"] = phase_validation(args)
    if "profile" in phases:
        results["profile"] = phase_profile(args)
    results["load_after"] = _load()
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "enforce.json"), "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
