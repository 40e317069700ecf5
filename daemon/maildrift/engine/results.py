"""Verdicts: one Result per (rule, scope), and the Report that sums them up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["STATUSES", "Outcome", "Report", "Result"]

#: Every status a result can have; waived results count as passed.
STATUSES = ("pass", "fail", "error", "waived", "not_applicable")


class Outcome(NamedTuple):
    """What a check found in one place: status, actual against expected, and where.

    A NamedTuple: dozens are made per evaluation, and a tuple is built in one
    step and holds its fields in a third of a dataclass's memory, which the
    evaluation after a fresh load feels (see docs/benchmarks.md).
    """

    status: str
    actual: str = ""
    expected: str = ""
    file: str | None = None
    line: int | None = None
    message: str = ""
    parameters: tuple[str, ...] = ()


class Result(NamedTuple):
    """One rule judged in one scope (a NamedTuple, as Outcome)."""

    rule: str
    title: str
    severity: str
    status: str
    scope: str
    parameters: tuple[str, ...]
    expected: str
    actual: str
    file: str | None
    line: int | None
    message: str
    references: tuple[str, ...]
    waiver: dict | None = None
    instance: str = ""
    enforce: bool = False

    def as_dict(self) -> dict:
        return {
            "rule": self.rule,
            "title": self.title,
            "severity": self.severity,
            "status": self.status,
            "scope": self.scope,
            "parameters": list(self.parameters),
            "expected": self.expected,
            "actual": self.actual,
            "file": self.file,
            "line": self.line,
            "message": self.message,
            "references": list(self.references),
            "waiver": self.waiver,
        }


@dataclass(frozen=True)
class Report:
    """Every result of one evaluation, with the policy that produced them."""

    policy_name: str
    policy_version: int
    policy_sha256: str
    results: tuple[Result, ...] = field(default_factory=tuple)
    #: engine.incremental.Trace: lets the next evaluation carry unchanged outcomes over.
    trace: object = field(default=None, compare=False, repr=False)

    def summary(self) -> dict[str, int]:
        counts = {status: 0 for status in STATUSES}
        for result in self.results:
            counts[result.status] += 1
        return {
            "total": len(self.results),
            "passed": counts["pass"],
            "failed": counts["fail"],
            "waived": counts["waived"],
            "errors": counts["error"],
            "not_applicable": counts["not_applicable"],
        }
