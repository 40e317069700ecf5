"""Prometheus metrics: an own registry, fed from each Report (these names are an interface).

No parameter value, file content or secret ever appears in a label: labels
are rule ids, severities, scopes, components, instances and fixed words.
"""

from __future__ import annotations

import os
import platform
import tempfile
import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, write_to_textfile
from prometheus_client.core import GaugeMetricFamily

from maildrift import __version__
from maildrift.engine.results import STATUSES

__all__ = ["Metrics"]

_RESULT_LABELS = ["rule", "severity", "scope", "instance"]
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class _ReportCollector:
    """Per-result series from the latest report; a vanished scope's series vanish with it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._results: tuple = ()
        self._expired = 0

    def update(self, results, expired: int) -> None:
        with self._lock:
            self._results = tuple(results)
            self._expired = expired

    def collect(self):
        with self._lock:
            results, expired = self._results, self._expired
        compliant = GaugeMetricFamily(
            "maildrift_rule_compliant",
            "1 when the rule passes or is waived, 0 on fail or error",
            labels=_RESULT_LABELS,
        )
        waived = GaugeMetricFamily(
            "maildrift_rule_waived", "1 when a waiver covers the result", labels=_RESULT_LABELS
        )
        error = GaugeMetricFamily(
            "maildrift_rule_error",
            "1 when the result could not be evaluated",
            labels=_RESULT_LABELS,
        )
        counts = dict.fromkeys(STATUSES, 0)
        for result in results:
            counts[result.status] += 1
            if result.status == "not_applicable":
                continue
            labels = [result.rule, result.severity, result.scope, result.instance]
            compliant.add_metric(labels, 1.0 if result.status in ("pass", "waived") else 0.0)
            waived.add_metric(labels, 1.0 if result.status == "waived" else 0.0)
            error.add_metric(labels, 1.0 if result.status == "error" else 0.0)
        by_status = GaugeMetricFamily("maildrift_rules", "Results per status", labels=["status"])
        for status, count in counts.items():
            by_status.add_metric([status], count)
        yield compliant
        yield waived
        yield error
        yield by_status
        yield GaugeMetricFamily(
            "maildrift_waivers_expired", "Results whose waiver has expired", value=expired
        )


class Metrics:
    """Every maildrift metric, registered in a registry of its own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.report = _ReportCollector()
        r.register(self.report)
        self.drift_events = Counter(
            "maildrift_drift_events",
            "Transitions from pass to fail",
            ["rule", "severity", "scope", "instance"],
            registry=r,
        )
        self.config_changes = Counter(
            "maildrift_config_changes",
            "Configuration changes seen",
            ["component", "instance"],
            registry=r,
        )
        self.evaluations = Counter("maildrift_evaluations", "Evaluations run", registry=r)
        self.evaluation_duration = Histogram(
            "maildrift_evaluation_duration_seconds",
            "Load and evaluation time",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.event_to_verdict = Histogram(
            "maildrift_event_to_verdict_seconds",
            "From the watcher's receipt of an event to the published verdict",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.last_evaluation = Gauge(
            "maildrift_last_evaluation_timestamp_seconds",
            "When the last evaluation finished",
            registry=r,
        )
        self.config_valid = Gauge(
            "maildrift_config_valid",
            "1 when the component's configuration could be read",
            ["component", "instance"],
            registry=r,
        )
        self.watch_healthy = Gauge(
            "maildrift_watch_healthy", "1 while the watcher is alive", registry=r
        )
        self.watch_backend = Gauge(
            "maildrift_watch_backend_info", "The watcher backend running", ["backend"], registry=r
        )
        self.rescans = Counter("maildrift_rescans", "Full rescans", ["reason"], registry=r)
        self.policy_info = Gauge(
            "maildrift_policy_info",
            "The policy in force",
            ["policy", "version", "sha256"],
            registry=r,
        )
        self.policy_load_success = Gauge(
            "maildrift_policy_load_success", "1 when the last policy load succeeded", registry=r
        )
        self.config_reloads = Counter(
            "maildrift_config_reloads", "SIGHUP reloads", ["outcome"], registry=r
        )
        build = Gauge("maildrift_build_info", "maildrift build", ["version", "python"], registry=r)
        build.labels(__version__, platform.python_version()).set(1)

    def set_backend(self, backend: str) -> None:
        for name in ("pyinotify", "watchdog", "poll"):
            self.watch_backend.labels(name).set(1 if name == backend else 0)

    def set_policy(self, policy) -> None:
        self.policy_info.clear()
        self.policy_info.labels(policy.name, str(policy.version), policy.sha256).set(1)
        self.policy_load_success.set(1)

    def publish(self, report, previous: dict | None) -> list:
        """Export a report; return the results that drifted from pass to fail."""
        results = report.results
        expired = sum(1 for r in results if r.waiver and r.waiver.get("expired"))
        self.report.update(results, expired)
        drifted = []
        for result in results:
            key = (result.rule, result.scope)
            if result.status == "fail" and previous is not None and previous.get(key) == "pass":
                drifted.append(result)
                self.drift_events.labels(
                    result.rule, result.severity, result.scope, result.instance
                ).inc()
        self.evaluations.inc()
        return drifted

    def write_textfile(self, path: str) -> None:
        """Atomically write the exposition for node_exporter's textfile collector."""
        directory = os.path.dirname(path) or "."
        fd, temp = tempfile.mkstemp(prefix=".maildrift-", suffix=".prom", dir=directory)
        os.close(fd)
        try:
            write_to_textfile(temp, self.registry)
            os.chmod(temp, 0o644)
            os.replace(temp, path)
        finally:
            if os.path.exists(temp):
                os.unlink(temp)
