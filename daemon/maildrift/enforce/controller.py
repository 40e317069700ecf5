"""Enforce mode: after each evaluation, keep last-known-good and put unsafe edits back.

The daemon calls :meth:`Enforcer.after_evaluation` once the verdict is
published.  For each enforceable rule that passes, the judged tree becomes
its last-known-good.  The enforceable rules that went from pass to fail form
one group; the group is planned (:mod:`~maildrift.enforce.planner`), judged on
a candidate tree (:mod:`~maildrift.enforce.candidate`), quarantined, swapped
in by compare-and-swap, validated with the real tools, and the components
reloaded.  Every step that cannot be taken stops the revert with an outcome
counted in ``maildrift_reverts_total``.

All I/O goes through the collaborators in :class:`EnforceDeps`, which the
composition root builds.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from maildrift.enforce.apply import write_plan
from maildrift.enforce.candidate import evaluate_candidate, judge_candidate
from maildrift.enforce.keeping import Keeper, quarantine_plan
from maildrift.enforce.planner import Plan, inputs_of, plan_revert
from maildrift.enforce.quarantine import QuarantineError
from maildrift.enforce.remedy import plan_remediation
from maildrift.enforce.safewrite import is_temp_name, restore_metadata, swap_in
from maildrift.enforce.treestate import TreeState, tree_state
from maildrift.loadcache import LoadCache

__all__ = ["EnforceDeps", "Enforcer"]


@dataclass
class EnforceDeps:
    """What the enforcer needs, built by the composition root."""

    mode: str  # observe | dry-run | enforce
    sources: object  # wiring.Sources of the live tree
    lkg: object  # LkgStore
    quarantine: object  # QuarantineStore
    flap: object  # FlapGuard
    validator: object | None  # reload.Validator, None when validation is off
    reloader: object  # reload.Reloader
    metrics: object  # EnforceMetrics
    log: object
    is_paused: Callable[[], object] = lambda: None
    writer_of: Callable[[str], dict | None] = lambda path: None
    confirm_ms: int = 200
    enforce_on_start: bool = False
    remediation: bool = False
    clock: Callable[[], float] = time.monotonic
    swap: Callable = swap_in
    chmod: Callable = restore_metadata
    #: The daemon's LoadCache: candidates reuse its models of files a plan leaves alone.
    live_cache: LoadCache | None = None


@dataclass
class _Pending:
    """A group waiting for a missing, empty or unparseable file to settle."""

    keys: set
    due: float
    before: dict = field(default_factory=dict)


def _empty_or_missing(state: TreeState, lkg: dict) -> bool:
    for path, then in lkg.items():
        now = state.files.get(path)
        if then.exists and (now is None or not now.exists):
            return True
        if now is not None and now.sha256 is not None and not state.contents.get(path, b"").strip():
            return True
    return False


def _dovecot_paths(mail) -> set[str]:
    paths = {entry.path for entry in mail.dovecot.files} if mail.dovecot is not None else set()
    for key, files in mail.files.config_files.items():
        if key.startswith("dovecot:"):
            paths.update(files)
    return paths


class Enforcer:
    def __init__(self, deps: EnforceDeps) -> None:
        self.deps = deps
        # Candidates have a cache of their own: the live tree's entries stay put,
        # and its models of untouched components are the very objects judged live,
        # so the candidate's evaluation carries their outcomes over.
        self.candidate_cache = LoadCache(fallback=deps.live_cache)
        self.keeper = Keeper()
        self.dovecot_paths: set[str] = set()
        self.pending: _Pending | None = None
        #: host path -> sha256 of what maildrift itself wrote last.
        self.own_writes: dict[str, str] = {}
        #: Keys of the last revert written: they pass on what maildrift left on disk.
        self.put_back: set = set()

    # -- what the daemon asks -------------------------------------------------------------

    def due_at(self) -> float | None:
        """When a deferred group should be judged again (monotonic seconds)."""
        return self.pending.due if self.pending is not None else None

    def is_own_write(self, host_path: str, sha256: str | None) -> bool:
        return sha256 is not None and self.own_writes.get(host_path) == sha256

    def only_own_writes(self, host_paths) -> bool:
        """Whether every changed file holds what maildrift itself just wrote there."""
        if not host_paths:
            return False
        for path in host_paths:
            if is_temp_name(os.path.basename(path)) and not os.path.lexists(path):
                continue  # the swap's own temp file, gone again
            try:
                with open(path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
            except OSError:
                return False
            if not self.is_own_write(path, digest):
                return False
        return True

    def maintain(self, policy) -> None:
        """Periodic housekeeping: quarantine retention, last-known-good of gone rules, blobs."""
        deps = self.deps
        try:
            pruned = deps.quarantine.prune()
            active = {r.id for r in policy.active_rules}
            for key in deps.lkg.rule_keys():
                if key[0] not in active:
                    deps.lkg.forget(key)
            removed = deps.lkg.gc()
        except OSError as exc:
            deps.log.error("maintenance_failed", error=str(exc))
            return
        if pruned or removed:
            deps.log.info("maintenance", quarantine_pruned=len(pruned), blobs_removed=len(removed))

    def reset(self) -> None:
        """SIGHUP: suspended rules are enforced again."""
        self.deps.flap.reset()
        self.deps.metrics.set_suspended(())

    # -- after each evaluation --------------------------------------------------------------

    def after_evaluation(
        self, mail, report, before: dict | None, policy, waivers, reason: str, started_ns=None
    ) -> None:
        """Keep last-known-good; revert the rules that went from pass to fail."""
        deps = self.deps
        state = tree_state(mail)
        self.dovecot_paths = _dovecot_paths(mail)
        self._record(report, state)
        paused = deps.is_paused()
        deps.metrics.set_paused(bool(paused))
        deps.metrics.set_suspended(deps.flap.suspended(deps.clock()))
        if deps.mode == "observe":
            return
        if self.put_back:
            # The revert made these pass, even if no evaluation saw it: a writer that
            # was faster than validation and reload made a new pass -> fail edit.
            before = {**(before or {}), **dict.fromkeys(self.put_back, "pass")}
            self.put_back = set()
        # An error where the rule passed before is a broken file: put back like a failure.
        failing = {(r.rule, r.scope): r for r in report.results if r.enforce}
        failing = {k: r for k, r in failing.items() if r.status in ("fail", "error")}
        if reason == "start":
            group = set(failing) if deps.enforce_on_start else set()
        else:
            group = {k for k in failing if (before or {}).get(k) == "pass"}
        if self.pending is not None:
            group |= self.pending.keys & set(failing)
            before = {**self.pending.before, **(before or {})}
        if not group:
            self.pending = None
            return
        if paused:
            deps.log.warning("revert_paused", rules=sorted(k[0] for k in group), reason=paused)
            self.pending = None
            return
        rules = {r.id: r for r in policy.active_rules}
        lkg = self._lkg_of(group)
        if (
            reason != "confirm"
            and (mail.errors or _empty_or_missing(state, lkg))
            and deps.confirm_ms > 0
        ):
            # An editor in the middle of a save: act only if this state lasts.
            self.pending = _Pending(group, deps.clock() + deps.confirm_ms / 1000, before or {})
            return
        self.pending = None
        context = (mail, report, before, policy, waivers, started_ns)
        self._revert(group, failing, rules, lkg, state, context)

    def _record(self, report, state: TreeState) -> None:
        keys = [(r.rule, r.scope) for r in report.results if r.enforce and r.status == "pass"]
        if keys:
            self.deps.lkg.record_many(keys, state.files, state.contents, defer=True)

    def idle(self) -> None:
        """The loop has nothing to do: write the deferred last-known-good to disk."""
        try:
            self.deps.lkg.flush()
        except OSError as exc:
            self.deps.log.error("last_known_good_not_saved", error=str(exc))

    def _lkg_of(self, group: set) -> dict:
        # The rules of one group normally passed on the same tree; where they did
        # not, the most recent last-known-good wins per file.
        merged: dict = {}
        for key in sorted(group, key=lambda k: self.deps.lkg.recorded(k) or ""):
            merged.update(self.deps.lkg.get(key) or {})
        return merged

    # -- one revert ----------------------------------------------------------------------

    def _revert(self, group, failing, rules, lkg, state, context) -> None:
        mail, report, before, policy, waivers, started_ns = context
        deps, now = self.deps, self.deps.clock()
        suspended = set()
        unsafe = hashlib.sha256(
            "".join(f"{p}:{s.sha256}" for p, s in sorted(state.files.items())).encode()
        ).hexdigest()
        for key in sorted(group):
            decision = deps.flap.allow(key, unsafe, now)
            if not decision.allowed:
                suspended.add(key)
                if decision.newly_suspended:
                    deps.log.error(
                        "enforcement_suspended",
                        rule=key[0],
                        scope=key[1],
                        why=decision.reason,
                        detail=decision.detail,
                    )
        self._count(suspended, "suspended")
        deps.metrics.set_suspended(deps.flap.suspended(now) | suspended)
        group = group - suspended
        if not group:
            return
        if suspended:
            self._outcome(group, "invalid", "part of the group is suspended")
            return
        missing = {k for k in group if deps.lkg.get(k) is None}
        for key in sorted(missing):
            self._remediate(key, failing, rules[key[0]], mail, state, context)
        group -= missing
        if not group:
            return
        inputs = inputs_of(rules[sorted(group)[0][0]])
        for rule_id, _ in sorted(group):
            inputs = inputs | inputs_of(rules[rule_id])
        plan, why = None, ""
        for whole in (False, True):
            attempt = plan_revert(
                inputs,
                lkg,
                self._content,
                state.files,
                state.contents,
                whole_file=whole,
                dovecot_files=frozenset(self.dovecot_paths),
            )
            if attempt.empty:
                why = "; ".join(attempt.problems) or "nothing to put back"
                continue
            # The rejected versions go to the quarantine while the candidate is judged.
            kept = None
            if deps.mode == "enforce":
                kept = self.keeper.start(deps, group, failing, attempt, state, self._host)
            try:
                verdict = self._judge_plan(group, attempt, policy, waivers, report, before)
            except Exception:
                Keeper.drop(deps, kept)  # no entry may stand for a revert that never came
                raise
            if verdict.ok:
                plan = attempt
                break
            Keeper.drop(deps, kept)
            kept = None
            why = verdict.reason
        if plan is None:
            self._outcome(group, "invalid", why)
            return
        if deps.mode == "dry-run":
            deps.log.warning("would_revert", **self._describe(group, plan))
            self._count(group, "dry_run")
            return
        self._apply(group, failing, plan, state, lkg, unsafe, started_ns, kept)

    def _remediate(self, key, failing, rule, mail, state, context) -> None:
        """No last-known-good: only reported, unless remediation is switched on."""
        _, report, before, policy, waivers, started_ns = context
        if not self.deps.remediation:
            self._outcome({key}, "invalid", "no last-known-good (remediation is off)")
            return
        plan, why = plan_remediation(rule, mail, state, self.deps.sources.postfix_dir)
        if plan is not None:
            verdict = self._judge_plan({key}, plan, policy, waivers, report, before)
            if verdict.ok:
                if self.deps.mode == "dry-run":
                    self.deps.log.warning("would_remediate", **self._describe({key}, plan))
                    self._count({key}, "dry_run")
                    return
                self._apply({key}, failing, plan, state, {}, "remediation", started_ns)
                return
            why = verdict.reason
        self._outcome({key}, "invalid", f"remediation: {why}")

    def _apply(self, group, failing, plan: Plan, state, lkg, unsafe, started_ns, kept=None):
        """Quarantine (or wait for ``kept``, the entries written ahead), then write."""
        try:
            if kept is not None:
                kept.result()
            else:
                quarantine_plan(self.deps, group, failing, plan, state, self._host)
        except (QuarantineError, OSError) as exc:
            self._outcome(group, "failed", f"quarantine: {exc}")
            return
        write_plan(self, group, plan, state, lkg, unsafe, started_ns)

    # -- small helpers -------------------------------------------------------------------

    def _judge_plan(self, group, plan: Plan, policy, waivers, report, before):
        """The candidate's verdict: ``plan`` applied in memory, judged against the live report."""
        candidate = evaluate_candidate(
            self.deps.sources,
            plan,
            policy,
            waivers,
            datetime.now(timezone.utc),
            self.candidate_cache,
            previous=report.trace,
        )
        return judge_candidate(group, report, candidate, before)

    def _content(self, sha256: str) -> bytes | None:
        try:
            return self.deps.lkg.content(sha256)
        except Exception:
            return None

    def _host(self, path: str) -> str:
        return self.deps.sources.reader.live_path(path)

    def _describe(self, group, plan: Plan) -> dict:
        return {
            "rules": [f"{r} ({s})" for r, s in sorted(group)],
            "kind": plan.kind,
            "files": [w.path for w in plan.writes] + [m.path for m in plan.metas],
        }

    def _count(self, keys, outcome: str) -> None:
        for rule, scope in sorted(keys):
            self.deps.metrics.revert(rule, scope, outcome)

    def _outcome(self, keys, outcome: str, why: str) -> None:
        self._count(keys, outcome)
        self.deps.log.error(
            "revert_" + outcome, rules=[f"{r} ({s})" for r, s in sorted(keys)], why=why
        )

    def unsafe_window(self, started_ns: int | None, renamed_at: float | None) -> None:
        if started_ns is not None and renamed_at is not None:
            seconds = renamed_at - started_ns / 1e9
            if seconds >= 0:
                self.deps.metrics.observe_unsafe_window(seconds)

    def host_dir_of(self, component: str) -> str:
        sources = self.deps.sources
        if component == "postfix":
            return self._host(sources.postfix_dir)
        return self._host(sources.dovecot_config)

    def component_of(self, path: str) -> str:
        return "dovecot" if path in self.dovecot_paths else "postfix"

    def remember(self, host_path: str, sha256: str) -> None:
        self.own_writes[host_path] = sha256
        if len(self.own_writes) > 256:
            self.own_writes.pop(next(iter(self.own_writes)))
