"""The Postfix model agrees with the real postconf on every corpus tree."""

from __future__ import annotations

import os

import pytest

from maildrift.filestore import TreeReader
from maildrift.hostfacts import local_host_facts
from maildrift.postfix.defaults import local_defaults
from maildrift.postfix.loader import load_postfix
from maildrift.postfix.maincf import display_value
from maildrift.postfix.params import load_param_table
from maildrift.postfix.render import postfix_json
from tests.postfix import realpostconf

CORPUS = os.path.join(os.path.dirname(__file__), "corpus")
CASES = sorted(os.listdir(CORPUS))

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def local_tables(request):
    """Defaults and host facts of this machine, read once per module."""
    from tests.realtools import require_tool

    postconf = require_tool("postconf")
    return postconf, local_defaults(postconf), local_host_facts(), load_param_table()


@pytest.fixture(params=CASES)
def case(request, tmp_path, local_tables):
    """A corpus tree copied to a temp dir, with the model built from it."""
    postconf, defaults, facts, params = local_tables
    directory = realpostconf.copy_tree(os.path.join(CORPUS, request.param), str(tmp_path / "pf"))
    config = load_postfix(directory, TreeReader(), defaults, facts, params)
    return postconf, directory, config


def test_values_agree_with_postconf_n(case):
    """Every name postconf -n prints has the same display value and is known."""
    postconf, directory, config = case
    theirs, _ = realpostconf.run(postconf, directory, "-n")
    ours = postfix_json([config])["main"]
    theirs.pop("config_directory")
    assert set(theirs) <= set(ours)
    for name, value in theirs.items():
        assert ours[name]["value"] == value, name
        assert ours[name]["known"], name


def test_unprinted_names_are_unknown_and_warned(case):
    """Every name postconf -n leaves out is known: false and gets its warning."""
    postconf, directory, config = case
    theirs, stderr = realpostconf.run(postconf, directory, "-n")
    ours = postfix_json([config])["main"]
    for name in set(ours) - set(theirs):
        assert ours[name]["known"] is False, name
        assert f"unused parameter: {name}=" in stderr, name


def test_expanded_values_agree_with_postconf_nx(case):
    """With expansion, values agree with postconf -n -x."""
    postconf, directory, config = case
    theirs, _ = realpostconf.run(postconf, directory, "-n", "-x")
    theirs.pop("config_directory")
    ours = postfix_json([config], expand=True)["main"]
    for name, value in theirs.items():
        if "process_id" in config.expanded(name).unknown:
            continue  # postconf -x prints its own process id there
        assert ours[name]["value"] == value, name


def test_shadowed_assignments_match_override_warnings(case):
    """Each shadowed assignment matches one of postconf's overriding-entry warnings."""
    postconf, directory, config = case
    _, stderr = realpostconf.run(postconf, directory, "-n")
    expected = stderr.count("overriding earlier entry")
    ours = postfix_json([config])["main"]
    assert sum(len(info["shadowed"]) for info in ours.values()) == expected


def test_service_list_agrees_with_postconf_m(case):
    """Every master.cf entry appears, in order, as postconf -M lists them."""
    postconf, directory, config = case
    theirs = [
        " ".join(line.split()[:2]) for line in realpostconf.run_lines(postconf, directory, "-M")
    ]
    ours = [s.key.replace("/", " ") for s in config.master.services]
    assert ours == theirs


def test_fields_agree_with_postconf_f(case):
    """The eight fields agree with postconf -F for each single-entry service."""
    postconf, directory, config = case
    theirs, _ = realpostconf.run(postconf, directory, "-F")
    counts = {}
    for service in config.master.services:
        counts[service.key] = counts.get(service.key, 0) + 1
    for service in config.master.services:
        if counts[service.key] > 1:
            continue
        for field, value in service.fields().items():
            assert theirs[f"{service.key}/{field}"] == value, (service.key, field)


def test_overrides_agree_with_postconf_p(case):
    """The -o overrides agree with postconf -P for each single-entry service."""
    postconf, directory, config = case
    theirs, _ = realpostconf.run(postconf, directory, "-P")
    counts = {}
    for service in config.master.services:
        counts[service.key] = counts.get(service.key, 0) + 1
    ours = {}
    for service in config.master.services:
        if counts[service.key] == 1:
            for override in service.overrides:
                ours[f"{service.key}/{override.name}"] = override.value
    single = {k: v for k, v in theirs.items() if counts["/".join(k.split("/")[:2])] == 1}
    assert ours == single


def test_expanded_overrides_agree_with_postconf_px(case):
    """Expanded -o values agree with postconf -P -x for each single-entry service."""
    postconf, directory, config = case
    theirs, _ = realpostconf.run(postconf, directory, "-P", "-x")
    for service in config.master.effective_services():
        for override in service.overrides:
            key = f"{service.key}/{override.name}"
            if sum(1 for s in config.master.services if s.key == service.key) > 1:
                continue
            setting = config.setting_in_process(override.name, service.key)
            assert display_value(config.expand_setting(setting).text) == theirs[key], key


def test_duplicate_entries_follow_master_not_postconf_p(local_tables, tmp_path):
    """For two smtp/inet entries, the model takes master's view: the last entry alone.

    postconf -P merges the overrides of both entries (the later winning per
    name) and prints the result twice; master(8) runs only the last entry with
    its own overrides, so the first entry's rate limit is not in effect.
    """
    postconf, defaults, facts, params = local_tables
    directory = realpostconf.copy_tree(
        os.path.join(CORPUS, "duplicate-services"), str(tmp_path / "pf")
    )
    config = load_postfix(directory, TreeReader(), defaults, facts, params)
    lines = realpostconf.run_lines(postconf, directory, "-P")
    assert lines.count("smtp/inet/smtpd_client_connection_rate_limit = 10") == 2
    effective = config.service("smtp/inet")
    assert effective.line == 6
    assert [o.name for o in effective.overrides] == ["smtpd_tls_security_level"]
    assert config.setting("smtpd_client_connection_rate_limit", "smtp/inet").source == "default"
    assert config.process_limit(effective) == 200
    assert [s.effective for s in config.master.services if s.key == "smtp/inet"] == [False, True]
