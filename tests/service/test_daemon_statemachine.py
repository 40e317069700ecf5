"""Hypothesis state machine: after random edits and a quiet moment, the daemon agrees with check."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from maildrift.engine.evaluate import evaluate
from maildrift.loading import load_mail_config
from maildrift.policyload import load_site_policy
from maildrift.wiring import build_sources
from tests.policy_samples.sampletree import Sample, build_tree
from tests.service.harness import FACTS, DaemonProcess

pytestmark = pytest.mark.services

EDITS = [
    ("    noplaintext\n", "    mutual_auth\n"),
    ("smtpd_tls_auth_only = yes\n", "smtpd_tls_auth_only = no\n"),
    ("message_size_limit = 10240000\n", "message_size_limit = 0\n"),
    ("anvil_rate_time_unit = 60s\n", "anvil_rate_time_unit = 2h\n"),
]


class DaemonAgreesWithCheck(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.workdir = tempfile.mkdtemp(prefix="maildrift-sm-")
        self.root = build_tree(Sample("demo"), os.path.join(self.workdir, "root"))
        self.main_cf = os.path.join(self.root, "etc/postfix/main.cf")
        self.daemon = DaemonProcess(self.root, self.workdir).start()
        self.policy = load_site_policy()
        self.deleted = False

    def _read(self) -> str:
        with open(self.main_cf, encoding="utf-8") as handle:
            return handle.read()

    @precondition(lambda self: not self.deleted)
    @rule(edit=st.sampled_from(EDITS), forward=st.booleans(), rename=st.booleans())
    def toggle(self, edit, forward, rename):
        """Flip one setting, in place or by renaming a temp file over main.cf."""
        old, new = edit if forward else edit[::-1]
        text = self._read().replace(old, new)
        target = self.main_cf + ".tmp" if rename else self.main_cf
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(text)
        if rename:
            os.replace(target, self.main_cf)

    @precondition(lambda self: not self.deleted)
    @rule()
    def delete(self):
        """Move main.cf away, as an editor does mid-save."""
        shutil.move(self.main_cf, self.main_cf + ".away")
        self.deleted = True

    @precondition(lambda self: self.deleted)
    @rule()
    def restore(self):
        """Put main.cf back."""
        shutil.move(self.main_cf + ".away", self.main_cf)
        self.deleted = False

    @invariant()
    def agrees_after_quiet(self):
        """Once quiet, the scraped compliance equals check's verdicts on the same tree."""
        sources = build_sources(root=self.root, host_facts=FACTS, postfix_version="3.7")
        report = evaluate(self.policy, load_mail_config(sources), (), datetime.now(timezone.utc))
        expected = {
            (r.rule, r.scope): 1.0 if r.status in ("pass", "waived") else 0.0
            for r in report.results
            if r.status != "not_applicable"
        }

        def same(series):
            got = {}
            for key, value in series.items():
                if key.startswith("maildrift_rule_compliant{"):
                    labels = dict(part.split("=", 1) for part in key[25:-1].split(","))
                    got[(labels["rule"].strip('"'), labels["scope"].strip('"'))] = value
            return got == expected

        self.daemon.wait_for(same, 20)

    def teardown(self):
        self.daemon.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


TestDaemonAgreesWithCheck = DaemonAgreesWithCheck.TestCase
TestDaemonAgreesWithCheck.settings = settings(
    max_examples=4,
    stateful_step_count=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
