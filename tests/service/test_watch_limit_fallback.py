"""End to end: at a real inotify limit the daemon polls, and says so in a metric and the log.

The daemon starts while the kernel's inotify limit for its user is used up:

* ``watches`` (preferred): ``fs.inotify.max_user_watches`` is set to the
  watches the user holds already, so the daemon's ``inotify_add_watch`` gets
  ENOSPC and each directory goes to the stat-polling backend.  Nobody loses a
  watch; no process of this user can add one while it is lowered.
* ``instances`` (where the sysctl is not writable, as in many containers):
  the test holds every inotify instance the user may have
  (``max_user_instances``), so the daemon's ``inotify_init`` gets EMFILE and
  polling is chosen from the start.

``MAILDRIFT_INOTIFY_LIMIT=watches|instances`` forces one.  When neither can
be used the test skips, or fails under ``MAILDRIFT_REQUIRE_REAL=1``.

The limit is held as briefly as possible: the daemon's policy file is a FIFO,
so the daemon waits at its first policy read, after its imports; the limit
is lowered there and restored as soon as the daemon is ready (a fraction of
a second).  The polled directories stay on polling until the watcher is
rebuilt, so the edit afterwards is seen by the poll backend.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import gc
import glob
import os
import resource
import signal
import threading
import time

import pytest
from prometheus_client import CollectorRegistry

from maildrift.loading import load_mail_config
from maildrift.policyload import load_site_policy
from maildrift.service.config import DaemonConfig
from maildrift.service.daemon import Daemon, DaemonDeps
from maildrift.service.metrics import Metrics
from maildrift.watch import make_watcher
from maildrift.watch.events import watch_error
from maildrift.watch.pyinotify_backend import PyinotifyWatcher
from maildrift.wiring import build_sources
from tests.policy_samples.sampletree import Sample, build_tree
from tests.realtools import REQUIRE_REAL
from tests.service.harness import FACTS, DaemonProcess, compliant
from tests.service.test_watchdog_backend_death import inotify_watches

MAX_WATCHES = "/proc/sys/fs/inotify/max_user_watches"
MAX_INSTANCES = "/proc/sys/fs/inotify/max_user_instances"
POLICY = "rules:\n  - id: postfix-queue-minfree\n    severity: medium\n"
IN_CREATE = 0x100
_libc = ctypes.CDLL(None, use_errno=True)


def _inotify_init() -> int:
    fd = _libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return fd


def _read(path: str) -> int:
    with open(path, encoding="ascii") as handle:
        return int(handle.read())


def _write(path: str, value: int) -> None:
    with open(path, "w", encoding="ascii") as handle:
        handle.write(str(value))


def watches_in_use() -> int:
    """inotify watches held by processes of this user; an instance shared by processes once."""
    seen = set()
    for path in glob.glob("/proc/[0-9]*/fdinfo/*"):
        pid = path.split("/")[2]
        with contextlib.suppress(OSError):
            with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
                uids = next(line for line in handle if line.startswith("Uid:")).split()
            with open(path, encoding="utf-8") as handle:
                wds = tuple(line for line in handle if line.startswith("inotify wd:"))
            if wds and int(uids[2]) == os.geteuid():
                seen.add(wds)
    return sum(len(wds) for wds in seen)


def free_watch_slots(scratch: str, most: int = 64) -> int:
    """How many more watches this user can add (up to ``most``), found by adding them."""
    fd = _inotify_init()
    try:
        for index in range(most):
            directory = os.path.join(scratch, str(index))
            os.makedirs(directory, exist_ok=True)
            if _libc.inotify_add_watch(fd, os.fsencode(directory), IN_CREATE) < 0:
                if ctypes.get_errno() != errno.ENOSPC:
                    raise OSError(ctypes.get_errno(), "inotify_add_watch")
                return index
        return most
    finally:
        os.close(fd)  # its watches are uncounted on close


class InotifyLimit:
    """One way to use up the user's inotify limit; ``restore`` undoes it, whatever happened."""

    def __init__(self, method: str, scratch: str) -> None:
        self.method = method
        self.scratch = scratch
        self.sysctl = "max_user_watches" if method == "watches" else "max_user_instances"
        self.original: int | None = None  # read by unusable()
        self.held: list[int] = []
        self.lowered_at: float | None = None
        self.held_s = 0.0
        self.in_use = 0
        self.passed_over = ""  # why the watches way was not taken

    @classmethod
    def choose(cls, scratch: str) -> InotifyLimit:
        """The forced method, else watches where the sysctl is writable, else instances."""
        forced = os.environ.get("MAILDRIFT_INOTIFY_LIMIT")
        if forced in ("watches", "instances"):
            return cls(forced, scratch)
        watches = cls("watches", scratch)
        why = watches.unusable()
        if why is None:
            return watches
        instances = cls("instances", scratch)
        instances.passed_over = why
        return instances

    def lower(self) -> None:
        self.lowered_at = time.monotonic()
        if self.method == "watches":
            self.in_use = watches_in_use()
            _write(MAX_WATCHES, self.in_use)
            most = 64
            free = free_watch_slots(self.scratch, most)
            if free:  # watches were freed since the count, or it missed some
                _write(MAX_WATCHES, 0 if free == most else max(0, self.in_use - free))
            return
        while True:
            try:
                self.held.append(_inotify_init())
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE):
                    return
                raise

    def restore(self) -> None:
        if self.lowered_at is None:
            return
        if self.method == "watches":
            _write(MAX_WATCHES, self.original)
        while self.held:
            os.close(self.held.pop())
        self.held_s = time.monotonic() - self.lowered_at
        self.lowered_at = None

    def unusable(self) -> str | None:
        """Why this method cannot work here, checked without lowering anything."""
        try:
            if self.method == "watches":
                self.original = _read(MAX_WATCHES)
                _write(MAX_WATCHES, self.original)  # writable here?
                return None
            limit = _read(MAX_INSTANCES)
        except (OSError, ValueError) as exc:
            return f"the {self.sysctl} sysctl cannot be used ({exc})"
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if limit > 4096:
            return f"max_user_instances is {limit}: too many to hold"
        if soft < limit + 256:
            if hard < limit + 256:
                return f"RLIMIT_NOFILE {hard} is too low to hold {limit} instances"
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit + 256, hard))
        return None


def serve_policy_once(path: str, text: str, at_read, stop: threading.Event, errors: list) -> None:
    """Answer the daemon's first read of the FIFO ``path``: run ``at_read``, then give ``text``.

    Before answering, a plain file with ``text`` takes the FIFO's place, so
    later reads (the daemon reads its policy again in ``run``) do not wait.
    """
    while not stop.is_set():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO until the daemon opens it
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise
            time.sleep(0.002)
            continue
        try:
            with open(path + ".plain", "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(path + ".plain", path)
            try:
                at_read()
            except Exception as exc:  # the test reports it; the daemon still gets its policy
                errors.append(exc)
            os.write(fd, text.encode())
        finally:
            os.close(fd)
        return


@pytest.fixture
def limit(tmp_path):
    chosen = InotifyLimit.choose(str(tmp_path / "probe"))
    why = chosen.unusable()
    if why is not None:
        message = f"no inotify limit can be used up here: {chosen.passed_over or ''} {why}"
        if REQUIRE_REAL:
            pytest.fail(message + " (MAILDRIFT_REQUIRE_REAL=1)")
        pytest.skip(message)
    try:
        yield chosen
    finally:
        chosen.restore()


@pytest.mark.services
def test_watch_limit_falls_back_to_polling_and_says_so(tmp_path, limit):
    """At the limit: poll in the metric, the sysctl in the log, and edits still judged."""
    root = build_tree(Sample("demo"), str(tmp_path / "root"))
    policy = str(tmp_path / "site.yaml")
    os.mkfifo(policy)
    daemon = DaemonProcess(root, str(tmp_path), extra_config=f"policies: [{policy}]\n")
    stop, errors = threading.Event(), []
    server = threading.Thread(
        target=serve_policy_once, args=(policy, POLICY, limit.lower, stop, errors)
    )
    server.start()
    try:
        try:
            daemon.start()
        finally:
            limit.restore()
            stop.set()
            server.join(10)
        assert not errors, errors
        assert 0 < limit.held_s < 5, f"the limit was held {limit.held_s:.2f}s"
        series = daemon.scrape()
        backends = {
            name: series.get(f'maildrift_watch_backend_info{{backend="{name}"}}')
            for name in ("pyinotify", "watchdog", "poll")
        }
        assert backends == {"pyinotify": 0.0, "watchdog": 0.0, "poll": 1.0}, daemon.log()
        assert series["maildrift_watch_healthy"] == 1.0
        assert inotify_watches(daemon.proc.pid) == 0, "every directory should be polled"
        said = [line for line in daemon.log().splitlines() if '"event": "watch_backend"' in line]
        assert said and f"fs.inotify.{limit.sysctl}" in said[0], daemon.log()
        assert compliant(series, "postfix-sasl-security-options", "postfix:submission/inet") == 1

        main_cf = os.path.join(root, "etc/postfix/main.cf")
        with open(main_cf, encoding="utf-8") as handle:
            text = handle.read().replace("    noplaintext\n", "    mutual_auth\n")
        with open(main_cf, "w", encoding="utf-8") as handle:
            handle.write(text)
        daemon.wait_for(
            lambda m: (
                compliant(m, "postfix-sasl-security-options", "postfix:submission/inet") == 0.0
            ),
            20,
        )
    finally:
        limit.restore()
        daemon.stop()


class _Notifier:
    """Stops the daemon once it is ready: ``run`` then returns after one turn."""

    watchdog_interval = None

    def __init__(self) -> None:
        self.daemon: Daemon | None = None

    def ready(self, _status: str) -> None:
        self.daemon.stop_requested = True

    def status(self, _status: str) -> None:
        pass

    stopping = watchdog = lambda self: None


class _Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict]] = []

    def info(self, event: str, **fields) -> None:
        self.lines.append((event, fields))

    warning = error = info


@pytest.mark.parametrize("at_limit", [True, False])
def test_start_up_watches_publish_their_backend(tmp_path, monkeypatch, at_limit):
    """The start-up watches, added before the first evaluation, set the metric and the log."""
    if at_limit:

        def full(self, path):
            raise watch_error(errno.ENOSPC, path)

        monkeypatch.setattr(PyinotifyWatcher, "add_directory", full)
    root = build_tree(Sample("demo"), str(tmp_path / "root"))
    config = DaemonConfig(state_dir=str(tmp_path / "state"), policy_dir=None)
    sources = build_sources(
        root=root,
        postfix_dir=config.postfix_dirs[0],
        dovecot_config=config.dovecot_configs[0],
        host_facts=FACTS,
        postfix_version="3.7",
    )
    notifier, log, metrics = _Notifier(), _Log(), Metrics(CollectorRegistry())
    daemon = Daemon(
        DaemonDeps(
            config=config,
            load_policy=load_site_policy,
            load_waivers=lambda _policy: [],
            load_mail=lambda: load_mail_config(sources),
            make_watcher=lambda sink: make_watcher(sink, poll_interval=0.1),
            host_path=sources.reader.host_path,
            metrics=metrics,
            notifier=notifier,
            log=log,
        )
    )
    notifier.daemon = daemon
    handlers = {n: signal.getsignal(n) for n in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)}
    try:
        assert daemon.run() == 0
    finally:
        gc.unfreeze()  # run() freezes what start-up built; not this test process's business
        for number, handler in handlers.items():
            signal.signal(number, handler)
    expected = "poll" if at_limit else "pyinotify"
    for name in ("pyinotify", "watchdog", "poll"):
        value = metrics.registry.get_sample_value("maildrift_watch_backend_info", {"backend": name})
        assert value == (1.0 if name == expected else 0.0), name
    said = [fields for event, fields in log.lines if event == "watch_backend"]
    if at_limit:
        assert len(said) == 1 and said[0]["backend"] == "poll"
        assert "fs.inotify.max_user_watches" in said[0]["reason"]
    else:
        assert said == []  # a normal start is not a warning
