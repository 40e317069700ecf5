"""Building the enforcer and its collaborators (part of the composition root).

Also the pause watcher: ``maildrift pause`` and ``resume`` write
``<state_dir>/pause.json``; the daemon looks at it on every turn of its loop
(a stat, at most once a second), logs each pause and resume with its reason,
and keeps ``maildrift_enforcement_paused`` current.
"""

from __future__ import annotations

import os
import time

from maildrift.enforce.controller import EnforceDeps, Enforcer
from maildrift.enforce.flapguard import FlapGuard
from maildrift.enforce.lkg import LkgStore
from maildrift.enforce.pause import pause_path, read_pause
from maildrift.enforce.quarantine import QuarantineStore, quarantine_dir, writer_of
from maildrift.enforce.reload import CommandRunner, Reloader, Validator
from maildrift.service.enforce_metrics import EnforceMetrics

__all__ = ["PauseWatcher", "build_enforcer"]


class PauseWatcher:
    """The pause in force, re-read when pause.json changes; logs every change once."""

    def __init__(self, state_dir: str, cap_s: float, log, metrics, clock=time.time) -> None:
        self.path = pause_path(state_dir)
        self.state_dir, self.cap_s = state_dir, cap_s
        self.log, self.metrics, self.clock = log, metrics, clock
        self._signature: tuple | None = None
        self._state = None

    def _stat(self) -> tuple | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def current(self):
        """The PauseState in force, or None (enforce)."""
        signature = self._stat()
        expired = self._state is not None and self.clock() >= self._state.until_epoch
        if signature != self._signature or expired:
            self._signature = signature
            reading = read_pause(self.state_dir, self.clock(), self.cap_s)
            if reading.problem:
                self.log.error("pause_ignored", problem=reading.problem)
            was, self._state = self._state, reading.state
            if self._state is not None and was != self._state:
                self.log.warning(
                    "enforcement_paused",
                    reason=self._state.reason,
                    until=self._state.until_epoch,
                    by_uid=self._state.by_uid,
                )
            elif self._state is None and was is not None:
                record = reading.record
                why = record.reason if record is not None and record.action == "resume" else ""
                self.log.warning("enforcement_resumed", reason=why or "pause expired")
            self.metrics.set_paused(self._state is not None)
        return self._state


def build_enforcer(
    config, sources, registry, log, heartbeat=None, live_cache=None
) -> tuple[Enforcer, PauseWatcher]:
    """The enforcer for ``config.mode`` (observe records last-known-good only).

    ``heartbeat`` is called about once a second while a validation or reload runs.
    """
    settings = config.enforce
    metrics = EnforceMetrics(registry)
    runner = CommandRunner(heartbeat=heartbeat)
    commands = {
        "postfix": settings.reload_commands.postfix,
        "dovecot": settings.reload_commands.dovecot,
    }
    reloader = Reloader(
        commands,
        runner,
        {"postfix": settings.reload.postfix, "dovecot": settings.reload.dovecot},
        timeout_s=settings.reload_timeout_s,
        observe=metrics.observe_reload,
    )
    validator = None
    if settings.validate:
        validator = Validator(
            runner, timeout_s=settings.validate_timeout_s, observe=metrics.observe_validation
        )
    quarantine = QuarantineStore(
        quarantine_dir(config.state_dir),
        max_entries=settings.quarantine.max_entries,
        max_bytes=settings.quarantine.max_bytes,
        retention_days=settings.quarantine.retention_days,
    )
    flap = settings.flap
    pause = PauseWatcher(config.state_dir, settings.pause_cap_s, log, metrics)
    lkg = LkgStore(config.state_dir)
    for problem in lkg.load():
        log.error("last_known_good_dropped", problem=problem)
    deps = EnforceDeps(
        mode=config.mode,
        sources=sources,
        lkg=lkg,
        quarantine=quarantine,
        flap=FlapGuard(flap.max_reverts, flap.window_s, flap.max_repeats, flap.repeat_window_s),
        validator=validator,
        reloader=reloader,
        metrics=metrics,
        log=log,
        is_paused=pause.current,
        writer_of=writer_of,
        confirm_ms=settings.confirm_ms,
        enforce_on_start=settings.enforce_on_start,
        remediation=settings.remediation,
        live_cache=live_cache,
    )
    return Enforcer(deps), pause
