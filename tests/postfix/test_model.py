"""The effective Postfix model: defaults, host facts, readers and postmulti instances."""

from __future__ import annotations

import os

import pytest

from maildrift.errors import ConfigError
from maildrift.filestore import TreeReader
from maildrift.hostfacts import HostFacts, parse_host_facts, unknown_host_facts
from maildrift.postfix.defaults import shipped_defaults
from maildrift.postfix.loader import load_postfix_instances
from maildrift.postfix.params import load_param_table

MASTER = """smtp inet n - n - - smtpd
submission inet n - n - - smtpd -o anvil_rate_time_unit=10s -o smtpd_tls_auth_only=yes
anvil unix - - n - 1 anvil -o anvil_rate_time_unit=30s
cleanup unix n - n - 0 cleanup
"""


def _write(root, path, text):
    full = os.path.join(root, path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w", encoding="utf-8") as handle:
        handle.write(text)


def _load(tmp_path, main, facts=None, master=MASTER, version="3.7"):
    root = str(tmp_path)
    _write(root, "/etc/postfix/main.cf", main)
    _write(root, "/etc/postfix/master.cf", master)
    return load_postfix_instances(
        "/etc/postfix",
        TreeReader(root),
        shipped_defaults(version),
        facts or unknown_host_facts(),
        load_param_table(),
    )


def test_mydomain_is_derived_from_myhostname(tmp_path):
    """With only myhostname set, mydomain is derived from it, as Postfix does."""
    config = _load(tmp_path, "myhostname = mx.example.net\n")[0]
    assert config.expanded("mydomain").text == "example.net"
    assert config.setting("mydomain").source == "host"


def test_host_computed_defaults_are_unknown_under_root(tmp_path):
    """Under --root without host facts, myhostname and mynetworks are unknown."""
    config = _load(tmp_path, "compatibility_level = 3.6\n")[0]
    assert config.setting("myhostname").source == "unknown"
    assert config.expanded("myorigin").unknown == frozenset({"myhostname"})
    assert "mynetworks" in config.expanded("smtpd_client_event_limit_exceptions").unknown


def test_host_facts_give_mynetworks_by_style(tmp_path):
    """mynetworks follows mynetworks_style, which follows compatibility_level."""
    facts = parse_host_facts(
        "hostname: mx\naddresses: [127.0.0.1/8, 192.0.2.9/24, '::1/128']\n", "f.yaml"
    )
    new = _load(tmp_path / "a", "compatibility_level = 3.6\n", facts)[0]
    old = _load(tmp_path / "b", "compatibility_level = 0\n", facts)[0]
    assert new.expanded("mynetworks").text == "127.0.0.1/32 192.0.2.9/32 [::1]/128"
    assert old.expanded("mynetworks").text == "127.0.0.0/8 192.0.2.0/24 [::1]/128"
    assert new.expanded("myhostname").text == "mx.localdomain"


def test_override_counts_only_on_a_reading_service(tmp_path):
    """anvil_rate_time_unit: the -o on anvil counts, the -o on an smtpd service does not."""
    config = _load(tmp_path, "anvil_rate_time_unit = 50s\n")[0]
    assert config.setting("anvil_rate_time_unit", "anvil/unix").value_raw == "30s"
    assert config.setting("anvil_rate_time_unit", "submission/inet").value_raw == "50s"
    auth_only = config.setting("smtpd_tls_auth_only", "submission/inet")
    assert (auth_only.source, auth_only.line) == ("override", 2)


def test_dash_process_limit_is_default_process_limit(tmp_path):
    """A '-' process limit resolves to default_process_limit; 0 stays unlimited."""
    config = _load(tmp_path, "default_process_limit = 42\n")[0]
    assert config.process_limit(config.service("smtp/inet")) == 42
    assert config.process_limit(config.service("cleanup/unix")) == 0


@pytest.mark.parametrize("version", ["3.5", "3.7", "3.8"])
def test_defaults_follow_the_trees_compatibility_level(tmp_path, version):
    """Relational defaults are evaluated against the tree's own compatibility_level."""
    low = _load(tmp_path / "low", "compatibility_level = 0\n", version=version)[0]
    high = _load(tmp_path / "high", "compatibility_level = 2\n", version=version)[0]
    assert low.expanded("mynetworks_style").text == "subnet"
    assert high.expanded("mynetworks_style").text == "host"


def test_postmulti_instances_are_configurations_of_their_own(tmp_path):
    """multi_instance_directories yields one configuration per instance, read under root."""
    _write(
        str(tmp_path),
        "/etc/postfix-out/main.cf",
        "multi_instance_name = postfix-out\nmyhostname = out.example\n",
    )
    _write(str(tmp_path), "/etc/postfix-out/master.cf", "smtp inet n - n - - smtpd\n")
    configs = _load(tmp_path, "multi_instance_directories = /etc/postfix-out\n")
    assert [c.instance for c in configs] == ["", "postfix-out"]
    other = configs[1]
    assert other.expanded("myhostname").text == "out.example"
    assert other.main.file == "/etc/postfix-out/main.cf"
    read = other.files["/etc/postfix-out/main.cf"].read_path
    assert read == os.path.join(str(tmp_path), "etc/postfix-out/main.cf")


def test_missing_postmulti_instance_names_the_setting(tmp_path):
    """A postmulti directory that cannot be read is an error at the setting's line."""
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, "myhostname = a\nmulti_instance_directories = /etc/postfix-gone\n")
    assert (info.value.file, info.value.line) == ("/etc/postfix/main.cf", 2)
    assert "postfix-gone" in info.value.message


def test_facts_are_not_taken_from_this_machine_under_root(tmp_path):
    """HostFacts with a hostname but no addresses leaves mynetworks unknown."""
    config = _load(tmp_path, "compatibility_level = 2\n", HostFacts("t", hostname="a.b"))[0]
    assert config.expanded("myhostname").text == "a.b"
    assert config.setting("mynetworks").source == "unknown"


@pytest.mark.parametrize("version", ["3.5", "3.7", "3.8"])
def test_host_computed_names_are_known_with_shipped_tables(tmp_path, version):
    """myhostname and friends are known although the shipped tables leave them out."""
    from maildrift.postfix.usage import known_names

    config = _load(
        tmp_path, "myhostname = a.b\nmydomain = b\nmynetworks = 10.0.0.0/8\n", version=version
    )[0]
    assert {"myhostname", "mydomain", "mynetworks"} <= known_names(config)


_FACTS = "hostname: mx\naddresses: [127.0.0.1/8, 192.0.2.9/24]\n"


@pytest.mark.parametrize(
    "main",
    [
        # postconf itself dies of SIGSEGV on both (verified with Postfix 3.7).
        "compatibility_level = $mynetworks\n",
        "compatibility_level = ${smtpd_client_connection_limit_exceptions:$mynetworks}\n",
        "a = $b\nb = $a\nsmtpd_banner = $a\n",
    ],
)
def test_a_loop_through_a_host_default_is_a_nesting_error_on_its_line(tmp_path, main):
    """A loop through a host-computed default is a ConfigError naming the main.cf line."""
    facts = parse_host_facts(_FACTS, "f.yaml")
    config = _load(tmp_path, main, facts)[0]
    name = "smtpd_banner" if "smtpd_banner" in main else "smtpd_client_event_limit_exceptions"
    with pytest.raises(ConfigError, match="unreasonable macro call nesting") as caught:
        config.expanded(name)
    assert caught.value.file == "/etc/postfix/main.cf"
    assert caught.value.line is not None
    # The model stays usable: the loop left nothing marked as in progress.
    assert config.expanded("biff").text == "yes"


def test_services_without_overrides_see_their_own_service_name(tmp_path):
    """Expansion shared with main.cf still gives each service its own service_name."""
    master = "smtp inet n - n - - smtpd\n2525 inet n - n - - smtpd\n"
    main = (
        "syslog_name = postfix/$service_name\n"
        "my_level = ${{$service_name} <level {3} ? {low} : {high}}\n"
    )
    config = _load(tmp_path, main, master=master)[0]
    assert config.expanded("syslog_name", "smtp/inet").text == "postfix/smtp"
    assert config.expanded("syslog_name", "2525/inet").text == "postfix/2525"
    assert config.expanded("syslog_name").unknown == frozenset({"service_name"})
    # Under main.cf's context the empty service_name is no level at all.
    with pytest.raises(ConfigError):
        config.expanded("my_level")
    assert config.expanded("my_level", "2525/inet").text == "high"


@pytest.mark.parametrize(
    "main, hostname, mydomain",
    [
        # What postconf 3.7 -x prints on a host named vm (tests/postfix/corpus/*-loop).
        ("myhostname = mail.$mydomain\n", "mail.", ""),
        ("myhostname = $mydomain\n", "localdomain", "localdomain"),
        ("mydomain = $myhostname\n", "vm.", "vm."),
    ],
)
def test_a_loop_through_myhostname_or_mydomain_reads_as_empty(tmp_path, main, hostname, mydomain):
    """As postconf, a loop back into myhostname or mydomain's default reads as empty."""
    facts = parse_host_facts("hostname: vm\naddresses: [127.0.0.1/8]\n", "f.yaml")
    for order in (("myhostname", "mydomain"), ("mydomain", "myhostname")):
        # Either order: nothing computed inside the broken loop may be memoised.
        config = _load(tmp_path / order[0], main, facts)[0]
        got = {name: config.expanded(name).text for name in order}
        assert got == {"myhostname": hostname, "mydomain": mydomain}
