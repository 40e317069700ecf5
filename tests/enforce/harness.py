"""An enforcer over a temp copy of the demo tree, with real stores and real swaps."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone

from prometheus_client import CollectorRegistry

from maildrift.enforce.controller import EnforceDeps, Enforcer
from maildrift.enforce.flapguard import FlapGuard
from maildrift.enforce.lkg import LkgStore
from maildrift.enforce.quarantine import QuarantineStore
from maildrift.enforce.reload import CommandResult
from maildrift.engine.evaluate import evaluate
from maildrift.loading import load_mail_config
from maildrift.policyload import load_site_policy
from maildrift.service.enforce_metrics import EnforceMetrics
from maildrift.wiring import build_sources

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(TOP, "demo")


class RecordingLog:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def _add(self, event, **fields):
        self.events.append((event, fields))

    info = warning = error = _add

    def names(self) -> list[str]:
        return [e for e, _ in self.events]


class FakeReloader:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def reload(self, component: str, instance: str = "") -> CommandResult:
        self.calls.append(component)
        return CommandResult("ok", 0, 0.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Stack:
    """The demo tree, the policy, and an Enforcer wired like the daemon wires it."""

    def __init__(self, tmp_path, mode: str = "enforce", **overrides) -> None:
        self.root = str(tmp_path / "root")
        shutil.copytree(DEMO, self.root)
        for secret in ("etc/pki/tls/private/postfix.key", "etc/pki/dovecot/private/dovecot.pem"):
            os.chmod(os.path.join(self.root, secret), 0o600)
        self.state_dir = str(tmp_path / "state")
        self.sources = build_sources(
            root=self.root, host_facts=os.path.join(DEMO, "host-facts.yaml"), postfix_version="3.7"
        )
        self.policy = load_site_policy()
        self.registry = CollectorRegistry()
        self.metrics = EnforceMetrics(self.registry)
        self.log = RecordingLog()
        self.reloader = FakeReloader()
        self.clock = Clock()
        self.quarantine = QuarantineStore(os.path.join(self.state_dir, "quarantine"))
        deps = EnforceDeps(
            mode=mode,
            sources=self.sources,
            lkg=LkgStore(self.state_dir),
            quarantine=self.quarantine,
            flap=FlapGuard(),
            validator=None,
            reloader=self.reloader,
            metrics=self.metrics,
            log=self.log,
            clock=self.clock,
        )
        for name, value in overrides.items():
            setattr(deps, name, value)
        self.enforcer = Enforcer(deps)
        self.previous: dict | None = None

    def path(self, relative: str) -> str:
        return os.path.join(self.root, relative)

    def read(self, relative: str) -> str:
        with open(self.path(relative), encoding="utf-8") as handle:
            return handle.read()

    def write(self, relative: str, text: str) -> None:
        with open(self.path(relative), "w", encoding="utf-8") as handle:
            handle.write(text)

    def judge(self, reason: str = "change"):
        """One daemon cycle: load, evaluate, then let the enforcer act."""
        mail = load_mail_config(self.sources)
        report = evaluate(self.policy, mail, (), datetime.now(timezone.utc))
        before = self.previous
        self.previous = {(r.rule, r.scope): r.status for r in report.results}
        self.enforcer.after_evaluation(mail, report, before, self.policy, (), reason)
        return report

    def status(self, rule: str, scope: str) -> str:
        report = evaluate(
            self.policy, load_mail_config(self.sources), (), datetime.now(timezone.utc)
        )
        return next(r.status for r in report.results if (r.rule, r.scope) == (rule, scope))

    def reverts(self, outcome: str) -> float:
        total = 0.0
        for metric in self.registry.collect():
            if metric.name == "maildrift_reverts":
                for sample in metric.samples:
                    if sample.name.endswith("_total") and sample.labels["outcome"] == outcome:
                        total += sample.value
        return total
