"""The committed Postfix data tables: golden ``postconf -d`` dumps and the parameter table."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.postfix import realpostconf
from tests.realtools import REQUIRE_REAL, require_tool

DATA = Path(__file__).resolve().parents[2] / "daemon" / "maildrift" / "data"
VERSIONS = ("3.5", "3.7", "3.8")
LINE = re.compile(r"^([A-Za-z0-9_]+) =(?: (.*))?$")
TYPES = {"str", "raw", "int", "long", "bool", "time", "nint", "nbool"}


def load_dump(version: str) -> dict[str, str]:
    """Parse one golden dump, insisting on sorted, unique ``name = value`` lines."""
    lines = (DATA / f"postconf-d-{version}.txt").read_text(encoding="utf-8").splitlines()
    values: dict[str, str] = {}
    for line in lines:
        match = LINE.match(line)
        assert match, f"{version}: not a postconf -d line: {line!r}"
        assert match.group(1) not in values, f"{version}: duplicate {match.group(1)}"
        values[match.group(1)] = match.group(2) or ""
    names = list(values)
    assert names == sorted(names), f"{version}: dump is not sorted"
    return values


def load_params() -> dict[str, dict]:
    """The parameter table without its ``_``-prefixed metadata keys."""
    document = json.loads((DATA / "postfix-params.json").read_text(encoding="utf-8"))
    return {name: entry for name, entry in document.items() if not name.startswith("_")}


def load_normalisation() -> dict:
    """Host-computed names and the per-version substitutions."""
    return json.loads((DATA / "postconf-d-normalisation.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("version", VERSIONS)
def test_dump_parses_and_has_policy_names(version: str) -> None:
    """Each dump is sorted name = value lines holding the policy-relevant names."""
    values = load_dump(version)
    assert len(values) > 700
    for name in ("compatibility_level", "smtpd_tls_security_level", "anvil_rate_time_unit"):
        assert name in values, f"{version}: {name} missing"
    assert values["mail_version"].startswith(version + ".")
    assert values["daemon_directory"] == "/usr/libexec/postfix"


@pytest.mark.parametrize("version", VERSIONS)
def test_dump_leaves_out_host_computed_names(version: str) -> None:
    """Host- and process-computed names are not in any golden dump."""
    values = load_dump(version)
    leaked = sorted(set(load_normalisation()["host_computed"]) & set(values))
    assert not leaked, f"{version}: host-computed names in dump: {leaked}"


def test_dump_37_matches_installed_postconf(tmp_path: Path) -> None:
    """The 3.7 dump equals the installed postconf -d apart from documented substitutions."""
    postconf = require_tool("postconf")
    (tmp_path / "main.cf").write_text("", encoding="utf-8")
    (tmp_path / "master.cf").write_text("", encoding="utf-8")
    for name in ("main.cf", "master.cf"):
        os.utime(tmp_path / name, (0, 0))
    installed, _ = realpostconf.run(postconf, str(tmp_path), "-d")
    if not installed.get("mail_version", "").startswith("3.7."):
        message = f"installed Postfix is {installed.get('mail_version')}, not 3.7"
        if REQUIRE_REAL:
            pytest.fail(message)
        pytest.skip(message)
    golden = load_dump("3.7")
    normalisation = load_normalisation()
    host = set(normalisation["host_computed"])
    substitutions = normalisation["substitutions"]["3.7"]
    assert set(installed) - host == set(golden)
    for name, value in installed.items():
        if name in host:
            continue
        if name in substitutions:
            assert value == substitutions[name]["installed"], name
            assert golden[name] == substitutions[name]["rhel"], name
        else:
            assert golden[name] == value, f"{name}: {golden[name]!r} != installed {value!r}"


def test_every_dump_name_is_in_the_parameter_table() -> None:
    """Every name of every dump has a typed entry with readers in postfix-params.json."""
    params = load_params()
    for version in VERSIONS:
        missing = sorted(set(load_dump(version)) - set(params))
        assert not missing, f"{version}: not in postfix-params.json: {missing}"
    for name, entry in params.items():
        assert entry["type"] in TYPES, name
        assert entry["readers"], f"{name}: no readers"
        assert (entry["type"] == "time") == ("time_unit" in entry), name


def test_since_matches_the_dumps() -> None:
    """A name's since/until fields agree with the dumps it appears in."""
    params = load_params()
    dumps = {version: load_dump(version) for version in VERSIONS}
    for name, entry in params.items():
        present = [v for v in VERSIONS if name in dumps[v]]
        if not present or entry.get("legacy"):
            continue
        assert entry.get("since", VERSIONS[0]) == present[0], name
        assert entry.get("until", VERSIONS[-1]) == present[-1], name


def test_reader_facts() -> None:
    """Readers of the rate-limit parameters are the programs that really read them."""
    params = load_params()
    anvil_unit = params["anvil_rate_time_unit"]
    assert anvil_unit["readers"] == ["anvil"]
    assert anvil_unit["type"] == "time"
    assert anvil_unit["time_unit"] == "s"
    assert "smtpd" in params["smtpd_client_connection_rate_limit"]["readers"]
    assert params["smtpd_client_connection_rate_limit"]["type"] == "int"
    limit_readers = params["default_process_limit"]["readers"]
    assert limit_readers == ["*"] or "master" in limit_readers
    assert params["smtp_tls_security_level"]["twin"] == "lmtp_tls_security_level"


def test_tls_protocol_defaults_differ_between_35_and_37() -> None:
    """3.5 spells the TLS protocol defaults as exclusions; 3.7 and 3.8 use >=TLSv1."""
    old, mid, new = (load_dump(version) for version in VERSIONS)
    for name in ("smtpd_tls_protocols", "smtp_tls_mandatory_protocols"):
        assert old[name] == "!SSLv2, !SSLv3"
        assert mid[name] == new[name] == ">=TLSv1"
    assert old["smtpd_tls_security_level"] == new["smtpd_tls_security_level"] == ""
