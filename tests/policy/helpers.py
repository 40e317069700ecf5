"""Shared names and loaders for the policy-language tests."""

from __future__ import annotations

import re
from pathlib import Path

from maildrift.policy import Policy, load_policy, load_policy_texts

SAMPLES = Path(__file__).parent / "samples"
VENDOR = str(SAMPLES / "vendor.yaml")

#: What a host would report; enough for the samples and the tests.
KNOWN_PARAMS = {
    "postfix": frozenset(
        {
            "message_size_limit",
            "queue_minfree",
            "relayhost",
            "smtpd_banner",
            "smtpd_client_connection_rate_limit",
            "smtpd_recipient_restrictions",
            "smtpd_sasl_path",
            "smtpd_sasl_security_options",
            "smtpd_tls_auth_only",
            "smtpd_tls_key_file",
            "smtpd_tls_mandatory_protocols",
            "smtpd_tls_protocols",
            "smtputf8_enable",
        }
    ),
    "dovecot": frozenset(
        {
            "auth_mechanisms",
            "disable_plaintext_auth",
            "group",
            "lmtp_proxy_timeout",
            "mode",
            "path",
            "ssl_min_protocol",
            "user",
        }
    ),
}
PREDICATES = frozenset({"sasl_socket_matches", "tls_cert_matches_key"})


def load(*paths: str | Path) -> Policy:
    """Load policy files in the order given, with the test host's names."""
    return load_policy([str(p) for p in paths], KNOWN_PARAMS, PREDICATES)


def load_texts(*texts: str) -> Policy:
    """Load in-memory policies named layer0.yaml, layer1.yaml, ..."""
    named = [(f"layer{i}.yaml", text) for i, text in enumerate(texts)]
    return load_policy_texts(named, KNOWN_PARAMS, PREDICATES)


def rule_yaml(check: str, scope: str = "postfix:main", extra: str = "") -> str:
    """A one-rule policy whose check is the YAML flow mapping ``check``."""
    return (
        "version: 1\nname: t\nrules:\n  - id: r1\n    title: T\n    severity: low\n"
        f"    scope: {scope}\n{extra}    check: {check}\n"
    )


_MARKER = re.compile(r"#\s*ERROR:\s*(.*?)\s*$")


def expected_error(path: Path) -> tuple[int, str]:
    """The line carrying ``# ERROR: text`` in a bad sample, and that text."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        found = _MARKER.search(line)
        if found:
            return number, found.group(1)
    raise AssertionError(f"{path} has no '# ERROR:' marker")
