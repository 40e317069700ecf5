"""Rendering a Report: text for people, JSON for programs, JUnit XML for CI systems."""

from __future__ import annotations

import json
from xml.etree import ElementTree

from maildrift import __version__
from maildrift.engine.results import Report

__all__ = ["SEVERITY_ORDER", "failing", "report_json", "report_junit", "report_text"]

SEVERITY_ORDER = ("info", "low", "medium", "high", "critical")

_COLOURS = {"fail": "\033[31m", "error": "\033[35m", "waived": "\033[33m", "pass": "\033[32m"}
_RESET = "\033[0m"


def failing(report: Report, fail_on: str) -> list:
    """Results that make ``check`` exit 1: fail or error at or above ``fail_on``."""
    floor = SEVERITY_ORDER.index(fail_on)
    return [
        r
        for r in report.results
        if r.status in ("fail", "error") and SEVERITY_ORDER.index(r.severity) >= floor
    ]


def report_json(report: Report) -> str:
    document = {
        "version": __version__,
        "policy": {
            "name": report.policy_name,
            "version": report.policy_version,
            "sha256": report.policy_sha256,
        },
        "summary": report.summary(),
        "results": [r.as_dict() for r in report.results],
    }
    return json.dumps(document, indent=2)


def report_text(report: Report, colour: bool = False) -> str:
    lines = []
    for result in report.results:
        if result.status not in ("fail", "error"):
            continue
        where = f"{result.file}:{result.line}" if result.file else "(default)"
        tag = result.status.upper()
        if colour:
            tag = f"{_COLOURS[result.status]}{tag}{_RESET}"
        line = f"{tag} [{result.severity}] {result.rule} {result.scope} {where}: "
        line += result.actual or "(empty)"
        if result.expected:
            line += f" (expected {result.expected})"
        if result.message:
            line += f"; {result.message}"
        lines.append(line)
    summary = report.summary()
    lines.append(
        f"{summary['total']} results: {summary['passed']} passed, {summary['failed']} failed, "
        f"{summary['errors']} errors, {summary['waived']} waived, "
        f"{summary['not_applicable']} not applicable (policy {report.policy_name}, "
        f"sha256 {report.policy_sha256[:12]})"
    )
    return "\n".join(lines) + "\n"


def report_junit(report: Report) -> str:
    suite = ElementTree.Element(
        "testsuite",
        name=f"maildrift {report.policy_name}",
        tests=str(len(report.results)),
        failures=str(report.summary()["failed"]),
        errors=str(report.summary()["errors"]),
        skipped=str(report.summary()["not_applicable"]),
    )
    for result in report.results:
        case = ElementTree.SubElement(suite, "testcase", classname=result.rule, name=result.scope)
        text = f"{result.actual}; expected {result.expected}; {result.file}:{result.line}"
        if result.status == "fail":
            ElementTree.SubElement(
                case, "failure", message=result.title, type=result.severity
            ).text = text
        elif result.status == "error":
            ElementTree.SubElement(
                case, "error", message=result.message or result.title
            ).text = text
        elif result.status == "not_applicable":
            ElementTree.SubElement(case, "skipped", message=result.message or "not applicable")
    return ElementTree.tostring(suite, encoding="unicode") + "\n"
