"""Daemon benchmarks: detection latency per kind of edit, idle CPU, and RSS over time.

Latency is measured from outside: from the end of the writer's write to the
moment the daemon's log line for that verdict reaches this process (a pipe,
so microseconds of transport).  Default settle_ms; n edits of each kind.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, TOP)
from bench.run import stats  # noqa: E402

SAFE, UNSAFE = "    noplaintext\n", "    mutual_auth\n"


class Daemon:
    def __init__(self, workdir: str) -> None:
        self.root = os.path.join(workdir, "root")
        shutil.copytree(os.path.join(TOP, "demo"), self.root)
        for secret in ("etc/pki/tls/private/postfix.key", "etc/pki/dovecot/private/dovecot.pem"):
            os.chmod(os.path.join(self.root, secret), 0o600)
        config = os.path.join(workdir, "maildrift.yaml")
        with open(config, "w", encoding="utf-8") as handle:
            handle.write(
                f"policy_dir: null\nstate_dir: {workdir}/state\nlog_format: json\n"
                f"host_facts: {TOP}/demo/host-facts.yaml\npostfix_version: '3.7'\n"
                "metrics: {listen: none}\n"
            )
        env = dict(os.environ, PYTHONPATH=os.path.join(TOP, "daemon"))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "maildrift", "run", "--config", config, "--root", self.root],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
            bufsize=1,
        )
        self.lines: list[tuple[float, dict]] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.wait(lambda e: e.get("event") == "ready", 60)

    def _read(self) -> None:
        for line in self.proc.stdout:
            now = time.monotonic()
            try:
                event = json.loads(line[line.index("{") :])
            except ValueError:
                continue
            with self.cond:
                self.lines.append((now, event))
                self.cond.notify_all()

    def wait(self, predicate, timeout: float = 10.0, after: int = 0) -> tuple[float, int]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for index in range(after, len(self.lines)):
                    if predicate(self.lines[index][1]):
                        return self.lines[index][0], index + 1
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("no verdict")
                self.cond.wait(remaining)

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat", encoding="utf-8") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _write_inplace(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def _write_rename(path: str, text: str) -> None:
    temp = path + ".tmp"
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.rename(temp, path)


def _write_sed(path: str, text: str) -> None:
    old, new = (SAFE, UNSAFE) if UNSAFE in text else (UNSAFE, SAFE)
    subprocess.run(["sed", "-i", f"s/^{old.rstrip()}$/{new.rstrip()}/", path], check=True)


WRITERS = {"in-place": _write_inplace, "rename": _write_rename, "sed -i": _write_sed}


def measure(daemon: Daemon, kind: str, n: int) -> dict:
    path = os.path.join(daemon.root, "etc/postfix/main.cf")
    with open(path, encoding="utf-8") as handle:
        safe = handle.read()
    unsafe = safe.replace(SAFE, UNSAFE)
    samples = []
    cursor = len(daemon.lines)
    for index in range(n):
        text = unsafe if index % 2 == 0 else safe
        want_failed = 1 if index % 2 == 0 else 0
        WRITERS[kind](path, text)
        written = time.monotonic()
        arrived, cursor = daemon.wait(
            lambda e, f=want_failed: e.get("event") == "evaluation" and e.get("failed") == f,
            after=cursor,
        )
        samples.append(arrived - written)
    return stats(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=1000, help="edits of each kind")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle CPU sampling")
    parser.add_argument("--evaluations", type=int, default=10000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        daemon = Daemon(workdir)
        try:
            results = {"rss_after_start_mb": daemon.rss_mb()}
            for kind in WRITERS:
                measure(daemon, kind, 20)  # warm-up
            results["rss_after_warmup_mb"] = daemon.rss_mb()
            results["latency"] = {kind: measure(daemon, kind, args.n) for kind in WRITERS}
            before = daemon.cpu_seconds()
            time.sleep(args.idle)
            results["idle_cpu_percent"] = 100 * (daemon.cpu_seconds() - before) / args.idle
            done = sum(r["n"] for r in results["latency"].values())
            extra = max(0, args.evaluations - done)
            if extra:
                measure(daemon, "in-place", extra)
            results["evaluations"] = done + extra
            results["rss_after_evaluations_mb"] = daemon.rss_mb()
        finally:
            daemon.stop()
    results["goals"] = {"latency_p99_ms": 10, "idle_cpu_percent": 0.1, "rss_mb": 40}
    print(json.dumps(results, indent=2))
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "daemon.json"), "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
