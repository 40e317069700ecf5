"""Writing a judged revert: swap the files in, chmod, validate, fall back, reload.

Every file goes in by compare-and-swap against the version that was judged.
If one of the group's files was changed again meanwhile (an admin's newer
write), the files already swapped go back and the outcome is ``conflict``:
the newer write is judged by the next evaluation.  After the write the real
tools validate the result; a surgical revert that fails is replaced by the
whole last-known-good file, and if that fails too the previous bytes come
back (outcome ``invalid``): maildrift never leaves a configuration that
validates worse than the one it found.
"""

from __future__ import annotations

from dataclasses import replace

from maildrift.enforce.planner import FileWrite, Plan
from maildrift.enforce.reload import passed

__all__ = ["write_plan"]

_TOOLS = {"postfix": "postfix", "dovecot": "doveconf"}


def _swap_all(enforcer, writes, originals: dict) -> tuple[list, object | None]:
    """Swap each write in; on the first refusal put back the ones already in."""
    deps = enforcer.deps
    done: list = []
    for write in writes:
        host = enforcer._host(write.path)
        result = deps.swap(host, write.data, write.expected_sha256, meta=write.meta)
        if result.outcome != "swapped":
            _undo(enforcer, done, originals)
            return [], result
        enforcer.remember(host, result.new_sha256)
        done.append((write, result))
    return done, None


def _undo(enforcer, done: list, originals: dict) -> None:
    for write, result in reversed(done):
        original = originals.get(write.path)
        if original is not None:
            back = enforcer.deps.swap(enforcer._host(write.path), original, result.new_sha256)
            if back.outcome == "swapped":
                enforcer.remember(enforcer._host(write.path), back.new_sha256)


def _validate(enforcer, components: set) -> tuple[bool, str]:
    validator = enforcer.deps.validator
    if validator is None:
        return True, ""
    results = {
        component: validator.check(_TOOLS[component], enforcer.host_dir_of(component))
        for component in sorted(components)
    }
    bad = {c: r for c, r in results.items() if not passed({c: r})}
    if not bad:
        return True, ""
    detail = "; ".join(f"{c}: {r.outcome} {r.stderr_tail.strip()[:200]}" for c, r in bad.items())
    return False, detail


def _whole_file_writes(enforcer, done: list, lkg: dict) -> list[FileWrite]:
    writes = []
    for write, result in done:
        then = lkg.get(write.path)
        data = enforcer._content(then.sha256) if then is not None and then.sha256 else None
        if data is None:
            return []
        writes.append(
            replace(write, data=data, expected_sha256=result.new_sha256, kind="whole_file")
        )
    return writes


def write_plan(enforcer, group: set, plan: Plan, state, lkg: dict, unsafe: str, started_ns):
    """Make ``plan`` real, or nothing of it; count and log the outcome."""
    deps = enforcer.deps
    originals = dict(state.contents)
    done, refused = _swap_all(enforcer, list(plan.writes), originals)
    if refused is not None:
        outcome = "conflict" if refused.outcome == "conflict" else "failed"
        enforcer._outcome(group, outcome, f"{refused.path}: {refused.outcome} {refused.error}")
        if outcome == "conflict":
            # The newer write is judged next as if these rules had passed: an unsafe
            # one is reverted too. Counted by the flap guard, so a writer racing every
            # swap ends in suspension rather than filling the quarantine.
            now = deps.clock()
            for key in sorted(group):
                deps.flap.record(key, unsafe, now)
            enforcer.put_back |= set(group)
        return
    first_rename = min((r.renamed_at for _, r in done if r.renamed_at), default=None)
    for meta in plan.metas:
        result = deps.chmod(enforcer._host(meta.path), meta.meta.mode, meta.meta.uid, meta.meta.gid)
        if result.outcome != "restored":
            enforcer._outcome(group, "failed", f"{meta.path}: {result.outcome} {result.error}")
            return
        first_rename = first_rename or deps.clock()
    enforcer.unsafe_window(started_ns, first_rename)
    components = {enforcer.component_of(w.path) for w in plan.writes}
    components |= {enforcer.component_of(m.path) for m in plan.metas}
    kind = plan.kind
    ok, why = _validate(enforcer, components)
    if not ok and kind == "surgical":
        fallback = _whole_file_writes(enforcer, done, lkg)
        redone, refused = _swap_all(enforcer, fallback, {})
        if refused is None and redone:
            done, kind = redone, "whole_file"
            ok, why = _validate(enforcer, components)
    if not ok:
        # Put the found bytes back: never leave what validates worse than before.
        _undo(enforcer, done, originals)
        enforcer._outcome(group, "invalid", f"validation failed: {why}")
        return
    for component in sorted(components):
        result = deps.reloader.reload(component)
        deps.log.info(
            "reload",
            component=component,
            outcome=result.outcome,
            duration_s=round(result.duration_s, 4),
            error=result.error or result.stderr_tail.strip()[-300:],
        )
    now = deps.clock()
    for key in sorted(group):
        deps.flap.record(key, unsafe, now)
    enforcer.put_back |= set(group)
    enforcer._count(group, kind)
    deps.log.warning(
        "reverted",
        kind=kind,
        rules=[f"{r} ({s})" for r, s in sorted(group)],
        files=[w.path for w, _ in done] + [m.path for m in plan.metas],
    )
