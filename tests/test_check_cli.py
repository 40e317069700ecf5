"""maildrift check: exit codes, output formats, candidates and waivers, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from xml.etree import ElementTree

import pytest

from tests.policy_samples.sampletree import Sample, build_tree

FACTS = os.path.join(os.path.dirname(__file__), "policy_samples", "host-facts.yaml")
RESULT_KEYS = {
    "rule",
    "title",
    "severity",
    "status",
    "scope",
    "parameters",
    "expected",
    "actual",
    "file",
    "line",
    "message",
    "references",
    "waiver",
}


@pytest.fixture
def tree(tmp_path) -> str:
    """A hardened copy of the demo tree."""
    return build_tree(Sample("demo"), str(tmp_path / "root"))


def check(root: str, *args: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "maildrift",
        "check",
        "--root",
        root,
        "--host-facts",
        FACTS,
        "--postfix-version",
        "3.7",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def weaken(root: str) -> None:
    path = os.path.join(root, "etc/postfix/main.cf")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text.replace("    noplaintext\n", "    mutual_auth\n"))


def test_hardened_tree_exits_zero(tree):
    """The hardened tree gives exit 0 and no failure in the JSON summary."""
    proc = check(tree, "--format", "json")
    assert proc.returncode == 0, proc.stdout
    document = json.loads(proc.stdout)
    assert document["summary"]["failed"] == 0
    assert document["policy"]["name"] == "rhel-mail-hardening"
    assert len(document["policy"]["sha256"]) == 64
    assert all(set(r) == RESULT_KEYS for r in document["results"])
    assert all(
        isinstance(r["expected"], str) and isinstance(r["actual"], str) for r in document["results"]
    )


def test_unsafe_edit_exits_one_and_names_file_and_line(tree):
    """Removing noplaintext fails the rule at main.cf's line, with exit 1."""
    weaken(tree)
    proc = check(tree)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    line = next(text for text in lines if "postfix-sasl-security-options" in text)
    assert "postfix:submission/inet" in line and "/etc/postfix/main.cf:44" in line
    assert "\033[" not in proc.stdout


def test_loop_through_a_host_default_is_an_error_result(tree):
    """compatibility_level = $mynetworks (postconf dies of it) gives error results, exit 1."""
    path = os.path.join(tree, "etc/postfix/main.cf")
    with open(path, encoding="utf-8") as handle:
        lines = [line for line in handle if not line.startswith("mynetworks =")]
    lines.append("compatibility_level = $mynetworks\n")
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(lines)
    proc = check(tree, "--format", "json")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [r for r in json.loads(proc.stdout)["results"] if r["status"] == "error"]
    assert errors and all("unreasonable macro call nesting" in r["message"] for r in errors)
    # A value main.cf sets is named at its own line; a default, at the loop's line.
    assert {r["file"] for r in errors} == {"/etc/postfix/main.cf"}
    assert len(lines) in {r["line"] for r in errors}


def test_fail_on_raises_the_threshold(tree):
    """With --fail-on critical, a high-severity failure alone exits 0."""
    weaken(tree)
    assert check(tree, "--fail-on", "critical").returncode == 0
    assert check(tree, "--fail-on", "high").returncode == 1


def test_default_decided_results_have_null_file(tree):
    """A value decided by a Postfix default reports file and line as null."""
    path = os.path.join(tree, "etc/postfix/main.cf")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text.replace("smtpd_sasl_type = dovecot\n", ""))
    document = json.loads(check(tree, "--format", "json").stdout)
    result = next(
        r
        for r in document["results"]
        if r["rule"] == "postfix-sasl-type" and r["scope"] == "postfix:submission/inet"
    )
    assert (result["status"], result["actual"]) == ("fail", "cyrus")
    assert result["file"] is None and result["line"] is None


def test_broken_policy_exits_two_without_traceback(tree, tmp_path):
    """A policy override with an unknown key is refused at its line with exit 2."""
    bad = tmp_path / "site.yaml"
    bad.write_text("rules:\n  - id: postfix-queue-minfree\n    severty: high\n")
    proc = check(tree, "--policy", str(bad))
    assert proc.returncode == 2
    assert f"{bad}:3" in proc.stderr and "Traceback" not in proc.stderr


def test_unreadable_configuration_exits_two(tmp_path):
    """A root with neither Postfix nor Dovecot configuration exits 2 naming a file."""
    proc = check(str(tmp_path))
    assert proc.returncode == 2
    assert "/etc/" in proc.stderr and "Traceback" not in proc.stderr


def test_candidate_is_judged_with_live_metadata(tree, tmp_path):
    """A 0600 candidate main.cf is judged for content; metadata rules use the live file."""
    candidate = tmp_path / "main.cf.tmp"
    with open(os.path.join(tree, "etc/postfix/main.cf"), encoding="utf-8") as handle:
        candidate.write_text(handle.read().replace("    noplaintext\n", "    mutual_auth\n"))
    os.chmod(candidate, 0o600)
    proc = check(tree, "--candidate", f"/etc/postfix/main.cf={candidate}", "--format", "json")
    results = {(r["rule"], r["scope"]): r for r in json.loads(proc.stdout)["results"]}
    assert results[("postfix-sasl-security-options", "postfix:submission/inet")]["status"] == "fail"
    assert results[("postfix-config-permissions", "postfix:main")]["status"] == "pass"
    assert proc.returncode == 1


def test_candidate_for_a_new_file(tree, tmp_path):
    """A candidate for a new conf.d file is included and judged."""
    candidate = tmp_path / "new.conf"
    candidate.write_text("ssl = no\n")
    proc = check(
        tree, "--candidate", f"/etc/dovecot/conf.d/99-new.conf={candidate}", "--format", "json"
    )
    results = {(r["rule"], r["scope"]): r for r in json.loads(proc.stdout)["results"]}
    assert results[("dovecot-ssl", "dovecot:global")]["status"] == "fail"
    assert results[("dovecot-ssl", "dovecot:global")]["file"] == "/etc/dovecot/conf.d/99-new.conf"


def test_waivers_active_and_expired(tree, tmp_path):
    """An active waiver makes a failure waived (exit 0); an expired one stops applying."""
    weaken(tree)
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "- rule: postfix-sasl-security-options\n"
        "  scope: postfix:submission/*\n"
        "  reason: migration of legacy clients\n"
        "  expires: 2999-12-31\n"
    )
    proc = check(tree, "--waivers", str(waivers), "--format", "json")
    result = [
        r
        for r in json.loads(proc.stdout)["results"]
        if r["rule"] == "postfix-sasl-security-options" and r["status"] != "not_applicable"
    ]
    assert result[0]["status"] == "waived" and result[0]["waiver"]["expired"] is False
    assert proc.returncode == 0
    waivers.write_text(waivers.read_text().replace("2999-12-31", "2020-01-01"))
    proc = check(tree, "--waivers", str(waivers), "--format", "json")
    result = [
        r
        for r in json.loads(proc.stdout)["results"]
        if r["rule"] == "postfix-sasl-security-options" and r["status"] != "not_applicable"
    ]
    assert result[0]["status"] == "fail" and result[0]["waiver"]["expired"] is True
    assert proc.returncode == 1


def test_junit_output_counts_failures(tree):
    """JUnit output is XML with one testcase per result and the failures counted."""
    weaken(tree)
    suite = ElementTree.fromstring(check(tree, "--format", "junit").stdout)
    assert suite.tag == "testsuite"
    assert int(suite.get("failures")) >= 1
    assert len(suite.findall("testcase")) == int(suite.get("tests"))
