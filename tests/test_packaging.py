"""The RPM spec: rpmlint finds no error, and it installs what the code looks for."""

from __future__ import annotations

import os
import re
import subprocess

from tests.realtools import require_tool

TOP = os.path.dirname(os.path.dirname(__file__))
SPEC = os.path.join(TOP, "packaging", "rpm", "maildrift.spec")


def test_rpmlint_finds_no_error():
    """rpmlint on the spec reports 0 errors."""
    rpmlint = require_tool("rpmlint")
    proc = subprocess.run([rpmlint, SPEC], capture_output=True, text=True, check=False)
    match = re.search(r"(\d+) errors", proc.stdout)
    assert match and match.group(1) == "0", proc.stdout


def test_spec_version_matches_the_package():
    """The spec's Version is the package version, and the vendor policy path matches."""
    from maildrift import __version__
    from maildrift.policyload import VENDOR_POLICY

    with open(SPEC, encoding="utf-8") as handle:
        text = handle.read()
    assert re.search(rf"^Version:\s+{re.escape(__version__)}$", text, re.M)
    assert f"%{{_datadir}}/maildrift/policies/{VENDOR_POLICY}" in text
    assert "%systemd_postun_with_restart maildrift.service" in text
