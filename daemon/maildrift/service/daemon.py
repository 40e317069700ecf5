"""The main loop: wake on events, settle, judge, publish.  Handlers only queue.

Data flows one way: watcher -> queue -> this loop -> load (pure parsers) ->
evaluate (pure engine) -> metrics, logs, notify.
"""

from __future__ import annotations

import contextlib
import gc
import os
import queue
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from maildrift.engine.evaluate import evaluate
from maildrift.errors import MaildriftError
from maildrift.service.logs import redact
from maildrift.service.prejudge import Prejudge
from maildrift.service.settle import Settler
from maildrift.service.verdicts import load_verdicts, save_verdicts
from maildrift.service.watchplan import WatchPlan, plan_watches
from maildrift.watch.selection import ORDER

__all__ = ["Daemon", "DaemonDeps"]

#: The loop never sleeps longer, so signal flags and watchdog pings stay timely.
_MAX_WAIT_S = 1.0
_RESCAN_KINDS = {
    "overflow": "overflow",
    "watch_removed": "watch_lost",
    "delete_self": "watch_lost",
    "move_self": "watch_lost",
}


@dataclass
class DaemonDeps:
    """Collaborators built by the composition root (service.app)."""

    config: object
    load_policy: object  # () -> Policy (raises MaildriftError)
    load_waivers: object  # (policy) -> list
    load_mail: object  # () -> MailConfig
    make_watcher: object  # (sink) -> watcher
    host_path: object  # configured path -> host path
    metrics: object
    notifier: object
    log: object
    clock_ns: object = time.monotonic_ns
    #: enforce.controller.Enforcer: last-known-good and reverts (None: judge only).
    enforcer: object = None
    #: service.enforce_wiring.PauseWatcher: ``maildrift pause`` as the daemon sees it.
    pause: object = None
    events: queue.Queue = field(default_factory=queue.Queue)


class Daemon:
    def __init__(self, deps: DaemonDeps) -> None:
        self.deps = deps
        self.config = deps.config
        self.policy = None
        self.waivers = []
        self.previous: dict | None = None
        #: Its trace lets the next evaluation carry unchanged outcomes over.
        self.last_report = None
        self.plan = WatchPlan()
        self.watcher = None
        self.settler = Settler(
            int(self.config.settle_ms * 1e6), int(self.config.max_delay_ms * 1e6)
        )
        self.batch_start_ns: int | None = None
        self.prejudge = Prejudge()
        self.batch_components: set[str] = set()
        self.batch_paths: set[str] = set()
        self.unsaved_report = None
        self.stop_requested = False
        self.reload_requested = False
        self.last_rescan_ns = 0
        self.last_ping_ns = 0
        self.last_status = ""
        self.restarts: list[int] = []
        self.gave_up = False
        self.published_backend: str | None = None

    # -- handlers: never raise, only flag or queue -------------------------------------

    def _on_signal(self, signum, _frame) -> None:
        if signum == signal.SIGHUP:
            self.reload_requested = True
        else:
            self.stop_requested = True

    def _sink(self, event) -> None:
        with contextlib.suppress(Exception):
            self.deps.events.put_nowait(event)

    # -- state ----------------------------------------------------------------------------

    def _idle(self) -> None:
        """Nothing to judge: write what the last evaluations left in memory."""
        if self.unsaved_report is not None:
            try:
                save_verdicts(self.config.state_dir, self.unsaved_report)
            except OSError as exc:
                self.deps.log.error("state_not_saved", error=str(exc))
            self.unsaved_report = None
        if self.deps.enforcer is not None:
            self.deps.enforcer.idle()

    # -- evaluation -----------------------------------------------------------------------

    def _judge(self) -> tuple:
        """(mail, report, seconds): load and evaluate, the collector paused."""
        collecting = gc.isenabled()
        gc.disable()
        try:
            begin = time.perf_counter()
            mail = self.deps.load_mail()
            report = evaluate(
                self.policy,
                mail,
                self.waivers,
                datetime.now(timezone.utc),
                previous=self.last_report.trace if self.last_report else None,
            )
            self.last_report = report
            return mail, report, time.perf_counter() - begin
        finally:
            if collecting:
                gc.enable()

    def evaluate(self, reason: str, started_ns: int | None = None, judged=None) -> None:
        """Publish ``judged`` (from :meth:`_judge`), or judge the tree now and publish that."""
        metrics, log = self.deps.metrics, self.deps.log
        if judged is None:
            # Judged now: an early verdict still held is older than this one.
            self.prejudge.discard()
        # No collector pauses between the event and the published verdict, nor
        # before a revert is on disk: the garbage is collected after both.
        gc.disable()
        try:
            mail, report, seconds = judged or self._judge()
            metrics.evaluation_duration.observe(seconds)
            before = self.previous
            self._publish(mail, report, reason, started_ns)
            if self.deps.enforcer is not None:
                try:
                    self.deps.enforcer.after_evaluation(
                        mail, report, before, self.policy, self.waivers, reason, started_ns
                    )
                except Exception as exc:  # a revert must never take the watcher down
                    log.error("enforce_failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            gc.enable()
        if self.config.textfile:
            try:
                metrics.write_textfile(self.config.textfile)
            except OSError as exc:
                log.error("textfile_not_written", path=self.config.textfile, error=str(exc))
        # Written when the loop is idle: an fsync must not delay the next verdict.
        self.unsaved_report = report
        self._update_status(report)
        self._update_watches(mail)

    def _publish(self, mail, report, reason: str, started_ns: int | None) -> None:
        """The verdict: metrics first, then the drift and summary log lines."""
        metrics, log = self.deps.metrics, self.deps.log
        for component in ("postfix", "dovecot"):
            instances = [c.instance for c in mail.postfix] if component == "postfix" else [""]
            for instance in instances or [""]:
                valid = 0 if component in mail.errors else 1
                metrics.config_valid.labels(component, instance).set(valid)
        drifted = metrics.publish(report, self.previous)
        if started_ns is not None:
            metrics.event_to_verdict.observe((self.deps.clock_ns() - started_ns) / 1e9)
        metrics.last_evaluation.set_to_current_time()
        for component, error in mail.errors.items():
            log.error(
                "config_invalid",
                component=component,
                file=error.file,
                line=error.line,
                error=error.message,
            )
        for result in drifted:
            log.warning(
                "drift",
                rule=result.rule,
                scope=result.scope,
                severity=result.severity,
                file=result.file,
                line=result.line,
                expected=result.expected,
                actual=redact(" ".join(result.parameters), result.actual),
            )
        log.info("evaluation", reason=reason, **report.summary(), drift=len(drifted))
        self.previous = {(r.rule, r.scope): r.status for r in report.results}

    def _update_status(self, report) -> None:
        applicable = [r for r in report.results if r.status != "not_applicable"]
        good = [r for r in applicable if r.status in ("pass", "waived")]
        failing = sorted({r.rule for r in applicable if r.status in ("fail", "error")})
        status = f"{len(good)}/{len(applicable)} rules pass"
        if failing:
            status += "; failing: " + ", ".join(failing)
        self.last_status = status
        self.deps.notifier.status(status)

    def _update_watches(self, mail) -> None:
        if self.watcher is None:
            return
        plan = plan_watches(
            mail, self.config.postfix_dirs, self.config.dovecot_configs, self.deps.host_path
        )
        wanted = {d for d in plan.directories if os.path.isdir(d)}
        current = set(self.watcher.directories())
        for directory in sorted(current - wanted):
            self.watcher.remove_directory(directory)
        added = sorted(wanted - current)
        for directory in added:
            try:
                self.watcher.add_directory(directory)
            except Exception as exc:
                self.deps.log.error("watch_failed", directory=directory, error=str(exc))
        if added and self.previous is not None:
            # A file in a newly watched directory may have changed between the
            # load and the watch: judge once more so nothing slips through.
            self._note(self.deps.clock_ns())
        self._publish_backend()
        self.plan = plan

    def _publish_backend(self) -> None:
        """Metric and log follow the weakest backend in use, compared with what was published.

        Compared with the last publication, not with the backend before this
        evaluation's adds: the start-up watches (and a rebuilt watcher) are
        added before the first evaluation, and a fallback there must show too.
        """
        backend = self.watcher.backend
        if backend == self.published_backend:
            return
        first = self.published_backend is None
        self.published_backend = backend
        self.deps.metrics.set_backend(backend)
        reason = getattr(self.watcher, "reason", "")
        if backend != ORDER[0]:
            self.deps.log.warning("watch_backend", backend=backend, reason=reason)
        elif not first:
            self.deps.log.info("watch_backend", backend=backend, reason=reason)

    # -- the loop -------------------------------------------------------------------------

    def _handle(self, event) -> None:
        reason = _RESCAN_KINDS.get(event.kind)
        if reason is not None and (
            event.kind == "overflow"
            or event.path in self.plan.roots
            or event.directory in self.plan.directories
        ):
            self.deps.metrics.rescans.labels(reason).inc()
            self._note(event.received_monotonic_ns)
            return
        if self.plan.relevant(event.path):
            self.batch_components.add(self.plan.component(event.path))
            self.batch_paths.add(event.path)
            self._note(event.received_monotonic_ns)
            self.prejudge.note(event.kind, event.received_monotonic_ns)

    def _note(self, received_ns: int) -> None:
        if self.batch_start_ns is None:
            self.batch_start_ns = received_ns
        # Quiet is counted from the watcher's receipt, not from when this loop
        # got round to the event: settle_ms is about the files, not the queue.
        self.settler.note(received_ns)

    def _confirm_wait_ns(self) -> int | None:
        enforcer = self.deps.enforcer
        due = enforcer.due_at() if enforcer is not None else None
        if due is None:
            return None
        return max(0, int((due - time.monotonic()) * 1e9))

    def _reload(self) -> None:
        notifier, log = self.deps.notifier, self.deps.log
        notifier.reloading()
        try:
            policy = self.deps.load_policy()
            waivers = self.deps.load_waivers(policy)
        except MaildriftError as exc:
            log.error("reload_failed", error=str(exc))
            self.deps.metrics.config_reloads.labels("failed").inc()
            self.deps.metrics.policy_load_success.set(0)
        else:
            self.policy, self.waivers = policy, waivers
            if self.deps.enforcer is not None:
                self.deps.enforcer.reset()
            self.deps.metrics.set_policy(policy)
            self.deps.metrics.config_reloads.labels("ok").inc()
            log.info("reloaded", policy=policy.name, sha256=policy.sha256)
            self.evaluate("reload")
        notifier.ready(self.last_status)

    def keepalive(self) -> None:
        """WATCHDOG=1 at half of WATCHDOG_USEC while the watcher lives: from every turn of the
        loop, and from inside a long revert (a slow reload)."""
        interval = self.deps.notifier.watchdog_interval
        now = self.deps.clock_ns()
        alive = self.watcher is not None and self.watcher.alive()
        if alive and interval and now - self.last_ping_ns >= interval * 1e9:
            self.deps.notifier.watchdog()
            self.last_ping_ns = now

    def _tick(self) -> None:
        if self.deps.pause is not None:
            self.deps.pause.current()  # logs a pause or resume as soon as it is written
        now = self.deps.clock_ns()
        alive = self.watcher is not None and self.watcher.alive()
        self.deps.metrics.watch_healthy.set(1 if alive else 0)
        self.keepalive()
        if not alive and self.watcher is not None and self._may_restart(now):
            self.deps.metrics.rescans.labels("backend_dead").inc()
            self.deps.log.error("watcher_dead", backend=self.watcher.backend)
            self._restart_watcher()
            self.evaluate("backend_dead")
        if now - self.last_rescan_ns >= self.config.rescan_interval_s * 1e9:
            self.last_rescan_ns = now
            if self.previous is not None:
                self.deps.metrics.rescans.labels("periodic").inc()
                self.evaluate("periodic")
            if self.deps.enforcer is not None:
                self.deps.enforcer.maintain(self.policy)

    def _may_restart(self, now: int) -> bool:
        """At most 3 watcher restarts in 10 minutes; then WATCHDOG pings stay off
        and systemd restarts the whole daemon."""
        window = 600 * 10**9
        self.restarts = [t for t in self.restarts if now - t < window]
        if len(self.restarts) >= 3:
            if not self.gave_up:
                self.gave_up = True
                self.deps.log.error("watcher_given_up", restarts=len(self.restarts))
            return False
        self.restarts.append(now)
        return True

    def _restart_watcher(self) -> None:
        try:
            if self.watcher is not None:
                self.watcher.stop()
        except Exception:
            pass
        self.watcher = self.deps.make_watcher(self._sink)
        self.watcher.start()
        # The backend is published after the next evaluation has added the watches.
        self.deps.metrics.watch_healthy.set(1 if self.watcher.alive() else 0)

    def _initial_directories(self) -> list[str]:
        host = self.deps.host_path
        roots = [host(d) for d in self.config.postfix_dirs]
        roots += [os.path.dirname(host(c)) for c in self.config.dovecot_configs]
        found = []
        for root in roots:
            for directory in (os.path.dirname(root), root):
                if os.path.isdir(directory) and directory not in found:
                    found.append(directory)
        return found

    def run(self) -> int:
        deps = self.deps
        signal.signal(signal.SIGHUP, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.policy = deps.load_policy()
        self.waivers = deps.load_waivers(self.policy)
        deps.metrics.set_policy(self.policy)
        self.previous = load_verdicts(self.config.state_dir)
        self._restart_watcher()
        # Watch the configured roots (and their parents) before the first load,
        # so an edit made while it runs is queued, not lost.
        for directory in self._initial_directories():
            with contextlib.suppress(Exception):
                self.watcher.add_directory(directory)
        deps.metrics.rescans.labels("start").inc()
        self.last_rescan_ns = deps.clock_ns()
        self.evaluate("start")
        # What start-up built lives as long as the daemon: keep it out of every
        # later collection, so collections stay short.
        gc.collect()
        gc.freeze()
        deps.notifier.ready(self.last_status)
        deps.log.info(
            "ready",
            backend=self.watcher.backend,
            mode=self.config.mode,
            watching=sorted(self.watcher.directories()),
        )
        while not self.stop_requested:
            if self.reload_requested:
                self.reload_requested = False
                self._reload()
            wait = self.settler.wait_ns(deps.clock_ns())
            # The watchers' receipts are CLOCK_MONOTONIC: so is the early judgement.
            early = self.prejudge.wait_ns(time.monotonic_ns())
            for other in (early, self._confirm_wait_ns()):
                if other is not None:
                    wait = other if wait is None else min(wait, other)
            ceiling = min(_MAX_WAIT_S, deps.notifier.watchdog_interval or _MAX_WAIT_S)
            timeout = ceiling if wait is None else min(ceiling, wait / 1e9)
            try:
                event = deps.events.get(timeout=timeout)
            except queue.Empty:
                event = None
                if not self.settler.pending:
                    self._idle()
            if event is not None:
                self._handle(event)
                while True:
                    try:
                        self._handle(deps.events.get_nowait())
                    except queue.Empty:
                        break
            if self.prejudge.due(time.monotonic_ns()):
                self.prejudge.start(time.monotonic_ns(), self._judge())
                # Events received during it are handled before its verdict may be taken.
                self._tick()
                continue
            if self.settler.due(deps.clock_ns()):
                started = self.batch_start_ns
                judged = self.prejudge.take(self.settler.last_ns)
                self.settler.reset()
                self.batch_start_ns = None
                own = deps.enforcer is not None and deps.enforcer.only_own_writes(self.batch_paths)
                for component in sorted(self.batch_components):
                    if not own:
                        deps.metrics.config_changes.labels(component, "").inc()
                self.batch_components.clear()
                self.batch_paths.clear()
                self.evaluate("own_write" if own else "change", started, judged)
            elif not self.settler.pending and self._confirm_wait_ns() == 0:
                # A missing or empty file has stayed so for confirm_ms: judge it now.
                self.evaluate("confirm")
            self._tick()
        deps.notifier.stopping()
        deps.log.info("stopping")
        self._idle()
        if self.watcher is not None:
            self.watcher.stop()
        return 0
